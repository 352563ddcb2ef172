package ml_test

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joule-dev/joule/internal/ml"
	"github.com/joule-dev/joule/internal/ml/linear"
)

// The reference numbers below are scikit-learn 1.2.1's, from
// ../shared/data/datasets/REFERENCE.md (LogisticRegression [scaled], C=1,
// lbfgs, max_iter=1000), printed there to 4 decimals.

type referenceMetrics struct {
	accuracy, precision, recall, f1, rocAUC, ap float64
}

var parityCases = []struct {
	name      string
	file      string
	load      func(io.Reader, string) (*ml.Dataset, error)
	rows      int
	positives int
	first10   []int // the first 10 test row indices REFERENCE.md prints
	logistic  referenceMetrics
}{
	{
		name: "german credit", file: "german.data-numeric", load: ml.LoadGermanNumeric,
		rows: 1000, positives: 300,
		first10:  []int{474, 925, 469, 85, 201, 518, 730, 501, 198, 979},
		logistic: referenceMetrics{0.7500, 0.6809, 0.4776, 0.5614, 0.8083, 0.7077},
	},
	{
		name: "cleveland heart disease", file: "processed.cleveland.data", load: ml.LoadCleveland,
		rows: 297, positives: 137,
		first10:  []int{134, 240, 234, 150, 83, 142, 135, 290, 62, 286},
		logistic: referenceMetrics{0.8500, 0.9118, 0.8378, 0.8732, 0.9471, 0.9672},
	},
	{
		name: "wdbc breast cancer", file: "wdbc.data", load: ml.LoadWDBC,
		rows: 569, positives: 212,
		first10:  []int{245, 552, 0, 470, 164, 57, 92, 12, 95, 176},
		logistic: referenceMetrics{1, 1, 1, 1, 1, 1},
	},
}

func mustLoad(t *testing.T, file string, load func(io.Reader, string) (*ml.Dataset, error)) *ml.Dataset {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := load(f, file)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDatasetSplits(t *testing.T) {
	t.Parallel()
	for _, tt := range parityCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := mustLoad(t, tt.file, tt.load)
			pos := 0
			for _, y := range d.Y {
				pos += y
			}
			if len(d.Y) != tt.rows || pos != tt.positives {
				t.Errorf("%s: %d rows, %d positives; want %d, %d", tt.file, len(d.Y), pos, tt.rows, tt.positives)
			}
			_, test := ml.TrainTestSplit(len(d.Y), 42)
			if diff := cmp.Diff(tt.first10, test[:10]); diff != "" {
				t.Errorf("first 10 test rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogisticRegressionParity(t *testing.T) {
	t.Parallel()
	for _, tt := range parityCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := mustLoad(t, tt.file, tt.load)
			trainIdx, testIdx := ml.TrainTestSplit(len(d.Y), 42)
			train, test := d.Subset(trainIdx), d.Subset(testIdx)
			scaler, err := ml.FitStandardScaler(train.X)
			if err != nil {
				t.Fatal(err)
			}
			xTrain, err := scaler.Transform(train.X)
			if err != nil {
				t.Fatal(err)
			}
			xTest, err := scaler.Transform(test.X)
			if err != nil {
				t.Fatal(err)
			}
			m, err := linear.FitLogistic(xTrain, train.Y, linear.LogisticOptions{C: 1, MaxIter: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if !m.Converged {
				t.Fatalf("did not converge in %d iterations", m.Iter)
			}
			pred := make([]int, len(xTest))
			proba := make([]float64, len(xTest))
			for i, x := range xTest {
				pred[i], proba[i] = m.Predict(x), m.PredictProba(x)
			}
			c, err := ml.NewConfusion(test.Y, pred)
			if err != nil {
				t.Fatal(err)
			}
			auc, err := ml.ROCAUC(test.Y, proba)
			if err != nil {
				t.Fatal(err)
			}
			ap, err := ml.AveragePrecision(test.Y, proba)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.logistic
			for _, got := range []struct {
				name      string
				got, want float64
			}{
				{"accuracy", c.Accuracy(), want.accuracy},
				{"precision", c.Precision(), want.precision},
				{"recall", c.Recall(), want.recall},
				{"F1", c.F1(), want.f1},
				{"ROC AUC", auc, want.rocAUC},
				{"AP", ap, want.ap},
			} {
				t.Logf("%s: ours %.6f, sklearn %.4f", got.name, got.got, got.want)
				if math.Abs(got.got-got.want) > 0.00005 {
					t.Errorf("%s = %.6f, want %.4f", got.name, got.got, got.want)
				}
			}
		})
	}
}
