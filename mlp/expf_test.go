package mlp

import (
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x <= 88; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 3e-7 {
		t.Errorf("expf: worst relative error %.3g > 3e-7", worst)
	}
	for _, c := range []struct{ x, want float32 }{
		{-1000, expf(-87)}, {1000, expf(88)}, {0, 1},
	} {
		if got := expf(c.x); got != c.want {
			t.Errorf("expf(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if v := expf(float32(math.NaN())); v == v {
		t.Errorf("expf(NaN) = %g, want NaN", v)
	}
}

func TestSigmoid(t *testing.T) {
	var xs []float32
	for x := float32(-100); x <= 100; x += 0.01 {
		xs = append(xs, x)
	}
	ys := append([]float32(nil), xs...)
	sigmoidSlice(ys)
	for i, x := range xs {
		want := 1 / (1 + math.Exp(-float64(x)))
		if d := math.Abs(float64(ys[i]) - want); d > 1e-7 && d > 4e-7*want {
			t.Fatalf("sigmoid(%g) = %g, want %g", x, ys[i], want)
		}
		if ys[i] < 0 || ys[i] > 1 {
			t.Fatalf("sigmoid(%g) = %g outside [0, 1]", x, ys[i])
		}
	}
}
