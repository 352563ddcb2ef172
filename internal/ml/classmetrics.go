package ml

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrProbability means a probability is not finite, lies outside [0, 1],
// or a row of class probabilities has the wrong length.
var ErrProbability = errors.New("probabilities must be finite, in [0, 1], one per class")

// LogLoss is the mean negative log-likelihood of the true classes
// (log_loss): prob holds one row of class probabilities per example and
// y the class codes 0..K-1, K the row length. As scikit-learn does,
// probabilities are clipped to [ε, 1−ε] (ε the float64 machine epsilon)
// and each row renormalised, so a confident mistake costs about 36, not
// infinity. For a binary model pass rows [1−p, p].
func LogLoss(y []int, prob [][]float64) (float64, error) {
	if len(y) != len(prob) || len(y) == 0 {
		return 0, ErrLength
	}
	const eps = 0x1p-52
	k := len(prob[0])
	var sum float64
	for i, row := range prob {
		if len(row) != k || k < 2 {
			return 0, fmt.Errorf("row %d: %d probabilities for %d classes: %w", i, len(row), k, ErrProbability)
		}
		if y[i] < 0 || y[i] >= k {
			return 0, fmt.Errorf("row %d: class %d of %d: %w", i, y[i], k, ErrLabel)
		}
		var total, py float64
		for j, p := range row {
			if !(p >= 0 && p <= 1) {
				return 0, fmt.Errorf("row %d: probability %v: %w", i, p, ErrProbability)
			}
			p = min(max(p, eps), 1-eps)
			total += p
			if j == y[i] {
				py = p
			}
		}
		sum -= math.Log(py / total)
	}
	return sum / float64(len(y)), nil
}

// ConfusionMatrix counts y (true classes) against pred (predicted
// classes), both in 0..k-1: entry [t][p] is the number of examples of
// class t predicted as p (confusion_matrix with labels 0..k-1).
func ConfusionMatrix(y, pred []int, k int) ([][]int, error) {
	if len(y) != len(pred) || len(y) == 0 {
		return nil, ErrLength
	}
	if k < 1 || k > maxClasses {
		return nil, fmt.Errorf("%d classes: %w", k, ErrLabel)
	}
	m := make([][]int, k)
	for t := range m {
		m[t] = make([]int, k)
	}
	for i := range y {
		if y[i] < 0 || y[i] >= k || pred[i] < 0 || pred[i] >= k {
			return nil, fmt.Errorf("row %d: classes %d and %d, want 0..%d: %w", i, y[i], pred[i], k-1, ErrLabel)
		}
		m[y[i]][pred[i]]++
	}
	return m, nil
}

// ClassScores are precision, recall and F1 of one class or an average.
type ClassScores struct {
	Precision, Recall, F1 float64
}

// MulticlassMetrics are the per-class and averaged scores of a
// multiclass prediction.
type MulticlassMetrics struct {
	Accuracy float64
	PerClass []ClassScores // indexed by class
	Support  []int         // true examples of each class
	Macro    ClassScores   // unweighted mean over classes
	Weighted ClassScores   // mean weighted by support
	// Confusion is the confusion matrix, [true][predicted].
	Confusion [][]int
}

// ScoreMulticlass computes accuracy, the confusion matrix, and precision,
// recall and F1 per class and averaged (macro and weighted) as
// precision_recall_fscore_support does with labels 0..k-1 and
// zero_division=0: a class never predicted has precision 0, a class with
// no examples recall 0, and F1 is 0 where precision + recall is.
func ScoreMulticlass(y, pred []int, k int) (*MulticlassMetrics, error) {
	cm, err := ConfusionMatrix(y, pred, k)
	if err != nil {
		return nil, err
	}
	m := &MulticlassMetrics{Confusion: cm, PerClass: make([]ClassScores, k), Support: make([]int, k)}
	correct := 0
	for c := range k {
		tp, predicted := cm[c][c], 0
		for t := range k {
			predicted += cm[t][c]
			m.Support[c] += cm[c][t]
		}
		correct += tp
		s := ClassScores{Precision: ratio(tp, predicted), Recall: ratio(tp, m.Support[c])}
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		m.PerClass[c] = s
		w := float64(m.Support[c]) / float64(len(y))
		m.Macro.Precision += s.Precision / float64(k)
		m.Macro.Recall += s.Recall / float64(k)
		m.Macro.F1 += s.F1 / float64(k)
		m.Weighted.Precision += s.Precision * w
		m.Weighted.Recall += s.Recall * w
		m.Weighted.F1 += s.F1 * w
	}
	m.Accuracy = ratio(correct, len(y))
	return m, nil
}

// CalibrationCurve bins binary predictions by predicted probability into
// nBins equal-width bins of [0, 1] and returns, for each bin that holds
// any, the fraction of positives and the mean predicted probability
// (calibration_curve with strategy="uniform"; a probability on a bin
// edge falls in the lower bin, as there).
func CalibrationCurve(y []int, prob []float64, nBins int) (fracPos, meanPred []float64, err error) {
	if len(y) != len(prob) || len(y) == 0 {
		return nil, nil, ErrLength
	}
	if nBins < 1 || nBins > 1<<20 {
		return nil, nil, fmt.Errorf("calibration curve: %d bins, want at least 1", nBins)
	}
	step := 1 / float64(nBins)
	pos, sum := make([]float64, nBins), make([]float64, nBins)
	count := make([]int, nBins)
	for i, p := range prob {
		if y[i] != 0 && y[i] != 1 {
			return nil, nil, fmt.Errorf("row %d: %w", i, ErrLabel)
		}
		if !(p >= 0 && p <= 1) {
			return nil, nil, fmt.Errorf("row %d: probability %v: %w", i, p, ErrProbability)
		}
		// The first inner edge j·step (numpy's linspace) that p does not
		// exceed, as searchsorted(edges[1:-1], p, side="left").
		b := min(int(p/step), nBins-1)
		for b > 0 && p <= float64(b)*step {
			b--
		}
		for b < nBins-1 && p > float64(b+1)*step {
			b++
		}
		pos[b] += float64(y[i])
		sum[b] += p
		count[b]++
	}
	for b := range nBins {
		if count[b] > 0 {
			fracPos = append(fracPos, pos[b]/float64(count[b]))
			meanPred = append(meanPred, sum[b]/float64(count[b]))
		}
	}
	return fracPos, meanPred, nil
}

// NDCG is the normalised discounted cumulative gain at k, averaged over
// queries (ndcg_score): relevance holds each query's graded relevance of
// its items, score the model's scores of the same items. Gains are
// discounted by 1/log2(rank+1) down to rank k (k ≤ 0: every rank); items
// with tied scores share the mean of their gains, and a query with no
// relevant item scores 0.
func NDCG(relevance, score [][]float64, k int) (float64, error) {
	if len(relevance) != len(score) || len(relevance) == 0 {
		return 0, ErrLength
	}
	var total float64
	for q := range relevance {
		rel, sc := relevance[q], score[q]
		if len(rel) != len(sc) || len(rel) == 0 {
			return 0, fmt.Errorf("query %d: %d relevances and %d scores: %w", q, len(rel), len(sc), ErrLength)
		}
		for i := range rel {
			if !finite(rel[i]) || !finite(sc[i]) || rel[i] < 0 {
				return 0, fmt.Errorf("query %d item %d: relevance %v, score %v: want finite numbers, relevance ≥ 0", q, i, rel[i], sc[i])
			}
		}
		kq := k
		if kq <= 0 || kq > len(rel) {
			kq = len(rel)
		}
		ideal := slices.Clone(rel)
		slices.SortFunc(ideal, func(a, b float64) int { return cmp.Compare(b, a) })
		var idcg float64
		for i := range kq {
			idcg += ideal[i] / math.Log2(float64(i)+2)
		}
		if idcg == 0 {
			continue
		}
		total += tiedDCG(rel, sc, kq) / idcg
	}
	return total / float64(len(relevance)), nil
}

// tiedDCG is the DCG at k of the items ranked by score, each group of
// tied scores taking the mean gain of the group at each of its ranks.
func tiedDCG(rel, score []float64, k int) float64 {
	idx := make([]int, len(rel))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(score[b], score[a]) })
	var dcg float64
	for s := 0; s < len(idx) && s < k; {
		e := s + 1
		for e < len(idx) && score[idx[e]] == score[idx[s]] {
			e++
		}
		var gain, disc float64
		for r := s; r < e; r++ {
			gain += rel[idx[r]]
			if r < k {
				disc += 1 / math.Log2(float64(r)+2)
			}
		}
		dcg += gain / float64(e-s) * disc
		s = e
	}
	return dcg
}

// TopKMetrics are ranking metrics of recommendation lists at a cut-off K,
// averaged over the users that have at least one relevant item.
type TopKMetrics struct {
	K         int
	Users     int     // users averaged over
	Precision float64 // relevant items among the top K, over K
	Recall    float64 // relevant items among the top K, over the user's relevant items
	NDCG      float64 // binary-relevance NDCG at K
	HitRate   float64 // share of users with a relevant item in their top K
}

// ScoreTopK scores recommended[u] (user u's items, best first) against
// relevant[u] (the items u did choose, e.g. held-out ratings) at cut-off
// k. Users with no relevant items are skipped; if every user is, it
// returns ErrOneClass. A list shorter than k counts its missing places as
// misses.
func ScoreTopK(recommended, relevant [][]int, k int) (TopKMetrics, error) {
	m := TopKMetrics{K: k}
	if len(recommended) != len(relevant) || len(recommended) == 0 {
		return m, ErrLength
	}
	if k < 1 {
		return m, fmt.Errorf("top-k metrics: k = %d, want at least 1", k)
	}
	for u := range recommended {
		if len(relevant[u]) == 0 {
			continue
		}
		rel := make(map[int]bool, len(relevant[u]))
		for _, it := range relevant[u] {
			rel[it] = true
		}
		var hits int
		var dcg, idcg float64
		seen := map[int]bool{}
		for r, it := range recommended[u][:min(k, len(recommended[u]))] {
			if rel[it] && !seen[it] {
				hits++
				dcg += 1 / math.Log2(float64(r)+2)
			}
			seen[it] = true
		}
		for r := range min(k, len(rel)) {
			idcg += 1 / math.Log2(float64(r)+2)
		}
		m.Users++
		m.Precision += float64(hits) / float64(k)
		m.Recall += float64(hits) / float64(len(rel))
		m.NDCG += dcg / idcg
		if hits > 0 {
			m.HitRate++
		}
	}
	if m.Users == 0 {
		return m, ErrOneClass
	}
	n := float64(m.Users)
	m.Precision, m.Recall, m.NDCG, m.HitRate = m.Precision/n, m.Recall/n, m.NDCG/n, m.HitRate/n
	return m, nil
}
