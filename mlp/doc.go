// Package mlp trains small multilayer perceptrons on the CPU with the gemm
// package.
//
// A Network is a stack of dense layers with samples as rows: a layer with
// In inputs and Out outputs maps a batch X (N×In) to act(X·W + b), where W
// is In×Out and b has Out elements. Activations are sigmoid, relu, tanh,
// softmax and identity; losses are Keras's categorical cross-entropy, a
// fused and numerically stable softmax cross-entropy, and mean squared
// error; optimizers are SGD with momentum, RMSprop and Adam with Keras's
// update rules and defaults. Weights start Glorot-uniform from an explicit
// seed, biases at zero.
//
// Every matrix product runs on a gemm.Tiler that the caller gives the
// network, so the worker count and the strategy are the caller's choice;
// the element-wise work (activations, their gradients, the loss, the
// parameter update) runs on the same workers through the Tiler's Do. The
// bias is folded into the products: each layer's input carries an extra
// column of ones and its bias is the last row of an (In+1)×Out parameter
// block, so the bias gradient comes out of the weight-gradient product.
// Buffers are allocated once per batch size; a training step in steady
// state allocates nothing.
//
// Training is deterministic for a given seed, worker count and strategy;
// with gemm.Rows, gemm.Cols or gemm.Grid it is also the same for every
// worker count.
//
// Network.TrainCUDA and Network.EvaluateCUDA do the same on an NVIDIA GPU
// through package cuda, which needs only the driver: the same batches and
// steps on the same layout, with the data, the parameters and the
// optimizer's state kept on the device and each step replayed as a CUDA
// graph.
//
// The package also reads the MNIST data set from its IDX files and saves
// and loads trained networks in a small versioned binary format (see
// Network.Save).
package mlp
