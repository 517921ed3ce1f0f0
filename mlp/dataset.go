package mlp

import "fmt"

// A Dataset holds samples as rows: inputs X and targets Y. For
// classification Y is one-hot, and a sample counts as correct when the
// largest output and the largest target are in the same column.
type Dataset struct {
	// X holds Len()×Inputs values, one sample per row.
	X []float32
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
	return len(d.X) / d.Inputs
}

// Validate reports whether X and Y hold the same number of whole rows.
func (d *Dataset) Validate() error {
	if d.Inputs < 1 || d.Outputs < 1 {
		return fmt.Errorf("mlp: dataset with %d inputs and %d outputs", d.Inputs, d.Outputs)
	}
	if len(d.X)%d.Inputs != 0 {
		return fmt.Errorf("mlp: dataset X holds %d values, not a multiple of %d inputs", len(d.X), d.Inputs)
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
	return &Dataset{
		X:      d.X[lo*d.Inputs : hi*d.Inputs],
		Y:      d.Y[lo*d.Outputs : hi*d.Outputs],
		Inputs: d.Inputs, Outputs: d.Outputs,
	}
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
