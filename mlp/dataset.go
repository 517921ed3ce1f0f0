package mlp

import (
	"fmt"
	"math"
)

// A Dataset holds samples as rows: inputs X and targets Y. For
// classification Y is one-hot, and a sample counts as correct when the
// largest output and the largest target are in the same column.
type Dataset struct {
	// X holds Len()×Inputs values, one sample per row.
	X []float32
	// XBytes, when X is nil, holds the inputs as bytes instead, one sample
	// per row, input j of sample i standing for the float32 value
	// float32(XBytes[i·Inputs+j]) / XDivisor (image pixels and /255, for
	// example). The network converts them as it gathers a batch: a quarter
	// of the memory of X, and a quarter of the memory traffic per epoch.
	XBytes []byte
	// XDivisor divides the values of XBytes; it must be finite and not 0
	// when XBytes is used.
	XDivisor float32
	// Y holds Len()×Outputs targets, one sample per row.
	Y []float32
	// Inputs and Outputs are the widths of a row of X and of Y.
	Inputs, Outputs int
}

// Len returns the number of samples.
func (d *Dataset) Len() int {
	if d.Inputs <= 0 {
		return 0
	}
	return d.values() / d.Inputs
}

// values returns the number of input values, in X or in XBytes.
func (d *Dataset) values() int {
	if d.X == nil {
		return len(d.XBytes)
	}
	return len(d.X)
}

// Validate reports whether X and Y hold the same number of whole rows.
func (d *Dataset) Validate() error {
	if d.Inputs < 1 || d.Outputs < 1 {
		return fmt.Errorf("mlp: dataset with %d inputs and %d outputs", d.Inputs, d.Outputs)
	}
	if d.X != nil && d.XBytes != nil {
		return fmt.Errorf("mlp: dataset has both X and XBytes")
	}
	if d.X == nil && d.XBytes != nil {
		if v := float64(d.XDivisor); v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Errorf("mlp: dataset XDivisor = %g: want a finite divisor other than 0", d.XDivisor)
		}
	}
	if v := d.values(); v%d.Inputs != 0 {
		return fmt.Errorf("mlp: dataset X holds %d values, not a multiple of %d inputs", v, d.Inputs)
	}
	if n := d.Len(); len(d.Y) != n*d.Outputs {
		return fmt.Errorf("mlp: dataset Y holds %d values, want %d samples × %d outputs", len(d.Y), n, d.Outputs)
	}
	return nil
}

// Slice returns the samples [lo, hi) as a Dataset sharing d's memory.
func (d *Dataset) Slice(lo, hi int) *Dataset {
	if lo < 0 || hi < lo || hi > d.Len() {
		panic(fmt.Sprintf("mlp: Dataset.Slice(%d, %d) out of range [0, %d]", lo, hi, d.Len()))
	}
	s := &Dataset{
		Y:      d.Y[lo*d.Outputs : hi*d.Outputs],
		Inputs: d.Inputs, Outputs: d.Outputs,
	}
	if d.X == nil && d.XBytes != nil {
		s.XBytes, s.XDivisor = d.XBytes[lo*d.Inputs:hi*d.Inputs], d.XDivisor
	} else {
		s.X = d.X[lo*d.Inputs : hi*d.Inputs]
	}
	return s
}

// checkFor reports whether d fits the network's input and output widths.
func (d *Dataset) checkFor(n *Network, what string) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if d.Inputs != n.Inputs() || d.Outputs != n.Outputs() {
		return fmt.Errorf("mlp: %s has %d inputs and %d outputs; the network takes %d and gives %d",
			what, d.Inputs, d.Outputs, n.Inputs(), n.Outputs())
	}
	return nil
}
