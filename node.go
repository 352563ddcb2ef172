package joule

import "time"

// Node is a machine that runs work: its inventory, health and latest
// utilisation. Nodes belong to the installation, not to a workspace.
type Node struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"` // unique; the hostname by default
	Hostname      string            `json:"hostname"`
	OS            string            `json:"os"`
	Arch          string            `json:"arch"`
	Kernel        string            `json:"kernel"`
	CPUModel      string            `json:"cpu_model"`
	CPUCores      int               `json:"cpu_cores"` // logical CPUs
	MemoryBytes   int64             `json:"memory_bytes"`
	GPUs          []GPU             `json:"gpus"`
	Meters        []Meter           `json:"meters"`
	Labels        map[string]string `json:"labels,omitempty"`
	State         NodeState         `json:"state"`
	Version       string            `json:"version"` // joule version on the node
	CreatedAt     time.Time         `json:"created_at"`
	LastHeartbeat time.Time         `json:"last_heartbeat"`
	Usage         *NodeUsage        `json:"usage,omitempty"`
}

// NodeState is a node's health.
type NodeState string

// Node states.
const (
	NodeReady NodeState = "ready" // heartbeats arrive
	NodeLost  NodeState = "lost"  // heartbeats stopped
)

// GPU is one accelerator on a node.
type GPU struct {
	Index       int     `json:"index"`
	UUID        string  `json:"uuid"`
	Name        string  `json:"name"`
	MemoryBytes int64   `json:"memory_bytes"`
	PowerLimitW float64 `json:"power_limit_w,omitempty"`
}

// Meter is a power or energy source detected on a node.
type Meter struct {
	Kind   string `json:"kind"`   // MeterRAPL, MeterHwmon, MeterNVML
	Name   string `json:"name"`   // e.g. "package-0", "GPU 0"
	Source string `json:"source"` // sysfs path or device
}

// Meter kinds.
const (
	MeterRAPL  = "rapl"  // Intel/AMD RAPL through Linux powercap
	MeterHwmon = "hwmon" // Linux hwmon power sensors
	MeterNVML  = "nvml"  // NVIDIA GPU power through NVML
)

// NodeUsage is a utilisation sample of a node.
type NodeUsage struct {
	Time         time.Time `json:"time"`
	CPUFraction  float64   `json:"cpu_fraction"` // 0..1 across all cores
	MemoryUsed   int64     `json:"memory_used_bytes"`
	Load1        float64   `json:"load1"`
	GPUFractions []float64 `json:"gpu_fractions,omitempty"`
	// Power is the node's power by component over the interval before Time,
	// each figure with how it was obtained ("measured:rapl",
	// "estimated:tdp-curve@1", …).
	Power []PowerReading `json:"power,omitempty"`
}

// PowerReading is one component's average power over a sampling interval.
type PowerReading struct {
	Component string  `json:"component"` // e.g. "package-0", "dram-0", "cpu", "memory", "gpu-0"
	Watts     float64 `json:"watts"`
	Method    string  `json:"method"`
}

// Event is something that happened in the installation that an operator may
// want to see: a node registered or was lost, the server started.
type Event struct {
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	WorkspaceID string    `json:"workspace_id,omitempty"` // "" for installation-wide events
	Kind        string    `json:"kind"`                   // e.g. "node.registered"
	Subject     string    `json:"subject"`                // the ID of what it is about
	Message     string    `json:"message"`
}

// ServerStatus summarises a running server for `joule status` and the console.
type ServerStatus struct {
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Store     string    `json:"store"` // "sqlite" or "postgres"
	DataDir   string    `json:"data_dir"`
	Nodes     []Node    `json:"nodes"`
}
