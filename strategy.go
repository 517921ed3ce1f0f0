package gemm

import "fmt"

// Strategy says how a Tiler splits a product among its workers.
type Strategy int

const (
	// Rows splits the rows of C (M) among the workers.
	Rows Strategy = iota
	// Cols splits the columns of C (N) among the workers.
	Cols
	// Grid splits C into a two-dimensional grid of blocks, as square as the
	// worker count allows.
	Grid
	// SplitK splits the inner dimension K: each worker computes a partial
	// product into its own buffer and the partials are then summed. It suits
	// small outputs with a long K, such as weight gradients whose K is the
	// batch. Results are deterministic for a fixed worker count but may
	// differ in the last bits between worker counts.
	SplitK
	// Auto chooses the strategy, and how many of the workers to use, from
	// the shape of each product. It never uses more workers than the Tiler
	// has, and uses fewer when the product is too small to pay for them.
	Auto
)

var strategyNames = [...]string{Rows: "rows", Cols: "cols", Grid: "grid", SplitK: "splitk", Auto: "auto"}

// Strategies lists every strategy, in declaration order.
func Strategies() []Strategy {
	return []Strategy{Rows, Cols, Grid, SplitK, Auto}
}

// String returns the strategy's name: rows, cols, grid, splitk or auto.
func (s Strategy) String() string {
	if s >= 0 && int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// ParseStrategy returns the strategy whose String is name.
func ParseStrategy(name string) (Strategy, error) {
	for i, n := range strategyNames {
		if n == name {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("gemm: unknown strategy %q (want rows, cols, grid, splitk or auto)", name)
}
