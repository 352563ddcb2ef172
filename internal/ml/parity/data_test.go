package parity_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/joule-dev/joule/internal/ml"
)

// dataDir is the shipped copy of the reference datasets.
const dataDir = "../../../examples/data"

// table is a CSV file read whole, with its header.
type table struct {
	header []string
	rows   [][]string
}

func readCSV(rel string) (*table, error) {
	f, err := os.Open(filepath.Join(dataDir, rel))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("%s: no rows", rel)
	}
	return &table{header: recs[0], rows: recs[1:]}, nil
}

func (t *table) col(name string) (int, error) {
	for i, h := range t.header {
		if h == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no column %q", name)
}

// floats returns the named columns as a row-major matrix.
func (t *table) floats(names ...string) ([][]float64, error) {
	idx := make([]int, len(names))
	for k, n := range names {
		i, err := t.col(n)
		if err != nil {
			return nil, err
		}
		idx[k] = i
	}
	X := make([][]float64, len(t.rows))
	for r, rec := range t.rows {
		row := make([]float64, len(idx))
		for k, i := range idx {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
			if err != nil {
				return nil, fmt.Errorf("row %d column %s: %w", r+2, names[k], err)
			}
			row[k] = v
		}
		X[r] = row
	}
	return X, nil
}

func column(X [][]float64, j int) []float64 {
	out := make([]float64, len(X))
	for i, r := range X {
		out[i] = r[j]
	}
	return out
}

// clfData is a classification dataset.
type clfData struct {
	X [][]float64
	Y []int
}

func loadUCIFile(name string, load func(*os.File) (*ml.Dataset, error)) (*clfData, error) {
	f, err := os.Open(filepath.Join(dataDir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := load(f)
	if err != nil {
		return nil, err
	}
	return &clfData{d.X, d.Y}, nil
}

func loadClassification(file string) (*clfData, error) {
	switch file {
	case "finance/german.data-numeric":
		return loadUCIFile(file, func(f *os.File) (*ml.Dataset, error) { return ml.LoadGermanNumeric(f, file) })
	case "healthcare/processed.cleveland.data":
		return loadUCIFile(file, func(f *os.File) (*ml.Dataset, error) { return ml.LoadCleveland(f, file) })
	case "healthcare/wdbc.data":
		return loadUCIFile(file, func(f *os.File) (*ml.Dataset, error) { return ml.LoadWDBC(f, file) })
	case "finance/UCI_Credit_Card.csv":
		t, err := readCSV(file)
		if err != nil {
			return nil, err
		}
		names := make([]string, 24)
		for i := range 23 {
			names[i] = fmt.Sprintf("X%d", i+1)
		}
		names[23] = "Y"
		X, err := t.floats(names...)
		if err != nil {
			return nil, err
		}
		d := &clfData{Y: make([]int, len(X))}
		for i, r := range X {
			d.X = append(d.X, r[:23:23])
			d.Y[i] = int(r[23])
		}
		return d, nil
	}
	return nil, fmt.Errorf("no loader for %s", file)
}

// loadRegression returns the features and target of a regression table.
func loadRegression(file, target string) ([][]float64, []float64, error) {
	switch file {
	case "energy/ENB2012_data.csv":
		t, err := readCSV(file)
		if err != nil {
			return nil, nil, err
		}
		X, err := t.floats("X1", "X2", "X3", "X4", "X5", "X6", "X7", "X8", target)
		if err != nil {
			return nil, nil, err
		}
		return strip(X)
	case "energy/ETTh1.csv":
		t, err := readCSV(file)
		if err != nil {
			return nil, nil, err
		}
		X, err := t.floats("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
		if err != nil {
			return nil, nil, err
		}
		return strip(X)
	case "energy/Tetuan City power consumption.csv":
		t, err := readCSV("energy/tetuan_city_power_consumption.csv")
		if err != nil {
			return nil, nil, err
		}
		X, err := t.floats("Temperature", "Humidity", "Wind Speed", "Zone 1 Power Consumption")
		if err != nil {
			return nil, nil, err
		}
		dt, err := t.col("DateTime")
		if err != nil {
			return nil, nil, err
		}
		out := make([][]float64, len(X))
		y := make([]float64, len(X))
		for i, r := range X {
			ts, err := time.Parse("1/2/06 15:04", t.rows[i][dt])
			if err != nil {
				return nil, nil, fmt.Errorf("row %d: %w", i+2, err)
			}
			// Weekday: 0 = Monday, as pandas' dayofweek.
			wd := (int(ts.Weekday()) + 6) % 7
			out[i] = []float64{r[0], r[1], r[2], float64(ts.Hour()) + float64(ts.Minute())/60, float64(wd), float64(ts.Month())}
			y[i] = r[3]
		}
		return out, y, nil
	}
	return nil, nil, fmt.Errorf("no loader for %s", file)
}

// strip splits off the last column as the target.
func strip(X [][]float64) ([][]float64, []float64, error) {
	d := len(X[0]) - 1
	y := make([]float64, len(X))
	for i, r := range X {
		y[i] = r[d]
		X[i] = r[:d:d]
	}
	return X, y, nil
}

func rowsAt[T any](v []T, idx []int) []T {
	out := make([]T, len(idx))
	for k, i := range idx {
		out[k] = v[i]
	}
	return out
}

func chronoSplit(n int) (train, test []int) {
	nTrain := n * 8 / 10
	for i := range n {
		if i < nTrain {
			train = append(train, i)
		} else {
			test = append(test, i)
		}
	}
	return train, test
}
