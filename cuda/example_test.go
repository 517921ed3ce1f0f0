package cuda_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/cuda"
)

// A 2×3 by 3×2 product on device 0, with the errors a program without a
// GPU gets.
func Example() {
	ctx, err := cuda.Open(0)
	switch {
	case errors.Is(err, cuda.ErrNoDriver), errors.Is(err, cuda.ErrNoDevice):
		fmt.Println("no GPU:", err) // says what to check
		return
	case err != nil:
		log.Fatal(err)
	}
	defer ctx.Close()
	ctx.SetBudget(1 << 30) // never more than 1 GiB

	a, _ := cuda.Upload(ctx, []float32{1, 2, 3, 4, 5, 6})
	b, _ := cuda.Upload(ctx, []float32{1, 0, 0, 1, 1, 1})
	c, _ := cuda.Alloc[float32](ctx, 4)
	defer a.Free()
	defer b.Free()
	defer c.Free()
	s, err := ctx.NewStream()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Destroy()
	if err := cuda.Sgemm(s, gemm.NoTrans, gemm.NoTrans, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2); err != nil {
		log.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		log.Fatal(err)
	}
	got, _ := c.Read()
	fmt.Println(got) // [4 5 10 11]
}

// Recording a sequence of launches once and replaying it: the launch
// overhead of a training step is then one graph launch.
func ExampleStream_Capture() {
	ctx, err := cuda.Open(0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ctx.Close()
	s, _ := ctx.NewStream()
	defer s.Destroy()
	w, _ := cuda.Upload(ctx, make([]float32, 1000))
	g, _ := cuda.Upload(ctx, make([]float32, 1000))
	ms, _ := cuda.Upload(ctx, make([]float32, 1000))
	step, err := s.Capture(func() error {
		// ... forward and backward kernels ...
		return cuda.RMSprop(s, w, g, ms, 0.001, 0.9, 1e-7)
	})
	if err != nil {
		log.Fatal(err)
	}
	defer step.Destroy()
	for range 10 {
		step.Launch(s)
	}
	s.Sync()
}
