package joule

// RetrainPolicy says when a deployment retrains its model and when the
// candidate is promoted. (Filled in by the lifecycle work.)
type RetrainPolicy struct{}

// LifecycleStatus is the retraining loop's state for a deployment.
// (Filled in by the lifecycle work.)
type LifecycleStatus struct{}
