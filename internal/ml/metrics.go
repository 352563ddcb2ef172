package ml

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Errors returned by the metrics.
var (
	// ErrLength means the label and prediction (or score) slices differ in
	// length, or are empty.
	ErrLength = errors.New("labels and predictions differ in length or are empty")
	// ErrLabel means a label or prediction is not 0 or 1.
	ErrLabel = errors.New("binary labels must be 0 or 1")
	// ErrOneClass means a ranking metric was asked of labels from one class
	// only; scikit-learn raises (ROC AUC) or warns (average precision) there.
	ErrOneClass = errors.New("labels hold only one class")
)

// Confusion is a binary confusion matrix with positive class 1.
type Confusion struct {
	TP, FP, TN, FN int
}

// NewConfusion counts y (true labels) against pred (predicted labels), both
// 0 or 1.
func NewConfusion(y, pred []int) (Confusion, error) {
	var c Confusion
	if len(y) != len(pred) || len(y) == 0 {
		return c, ErrLength
	}
	for i := range y {
		switch {
		case y[i] == 1 && pred[i] == 1:
			c.TP++
		case y[i] == 0 && pred[i] == 1:
			c.FP++
		case y[i] == 0 && pred[i] == 0:
			c.TN++
		case y[i] == 1 && pred[i] == 0:
			c.FN++
		default:
			return Confusion{}, fmt.Errorf("row %d: %w", i, ErrLabel)
		}
	}
	return c, nil
}

// Accuracy is the fraction of correct predictions (accuracy_score).
func (c Confusion) Accuracy() float64 {
	return ratio(c.TP+c.TN, c.TP+c.TN+c.FP+c.FN)
}

// Precision is TP/(TP+FP), and 0 when nothing was predicted positive
// (precision_score with zero_division=0).
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is TP/(TP+FN), and 0 when there are no positives (recall_score
// with zero_division=0).
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// F1 is the harmonic mean of precision and recall, 2TP/(2TP+FP+FN), and 0
// when that is undefined (f1_score with zero_division=0).
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// curvePoint is the cumulative count of true and false positives when every
// score at or above one distinct threshold is predicted positive.
type curvePoint struct{ tp, fp float64 }

// thresholdCurve returns the cumulative counts at each distinct score, from
// the highest score down, as scikit-learn's _binary_clf_curve does, and the
// totals of positives and negatives.
func thresholdCurve(y []int, score []float64) ([]curvePoint, float64, float64, error) {
	if len(y) != len(score) || len(y) == 0 {
		return nil, 0, 0, ErrLength
	}
	idx := make([]int, len(y))
	for i := range idx {
		if y[i] != 0 && y[i] != 1 {
			return nil, 0, 0, fmt.Errorf("row %d: %w", i, ErrLabel)
		}
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(score[b], score[a]) })
	var pts []curvePoint
	var tp, fp float64
	for k, i := range idx {
		if y[i] == 1 {
			tp++
		} else {
			fp++
		}
		if k == len(idx)-1 || score[idx[k+1]] != score[i] {
			pts = append(pts, curvePoint{tp, fp})
		}
	}
	return pts, tp, fp, nil
}

// ROCAUC is the area under the ROC curve of scores against binary labels
// (roc_auc_score): the curve has one point per distinct score, so tied
// scores form one diagonal step, and the area is summed by trapezoids.
// It returns ErrOneClass when y holds only one class.
func ROCAUC(y []int, score []float64) (float64, error) {
	pts, pos, neg, err := thresholdCurve(y, score)
	if err != nil {
		return 0, err
	}
	if pos == 0 || neg == 0 {
		return 0, ErrOneClass
	}
	var area, prevTPR, prevFPR float64
	for _, p := range pts {
		tpr, fpr := p.tp/pos, p.fp/neg
		area += (fpr - prevFPR) * (tpr + prevTPR) / 2
		prevTPR, prevFPR = tpr, fpr
	}
	return area, nil
}

// AveragePrecision is scikit-learn's average_precision_score: the sum over
// distinct score thresholds, from the highest down, of (R_n − R_{n−1})·P_n,
// with no interpolation. It returns ErrOneClass when y has no positives.
func AveragePrecision(y []int, score []float64) (float64, error) {
	pts, pos, _, err := thresholdCurve(y, score)
	if err != nil {
		return 0, err
	}
	if pos == 0 {
		return 0, ErrOneClass
	}
	var ap, prevRecall float64
	for _, p := range pts {
		recall := p.tp / pos
		ap += (recall - prevRecall) * p.tp / (p.tp + p.fp)
		prevRecall = recall
	}
	return ap, nil
}
