package mlp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The MNIST files, named as distributed.
const (
	MNISTTrainImages = "train-images-idx3-ubyte.gz"
	MNISTTrainLabels = "train-labels-idx1-ubyte.gz"
	MNISTTestImages  = "t10k-images-idx3-ubyte.gz"
	MNISTTestLabels  = "t10k-labels-idx1-ubyte.gz"
)

// MNISTFiles lists the four MNIST files: training images and labels, test
// images and labels.
func MNISTFiles() []string {
	return []string{MNISTTrainImages, MNISTTrainLabels, MNISTTestImages, MNISTTestLabels}
}

// LoadMNIST reads the MNIST training and test sets from the four files in
// dir (see MNISTFiles). Pixels are scaled to [0, 1] by /255 and labels
// become one-hot rows of 10. If files are missing, the error lists them
// and wraps fs.ErrNotExist.
func LoadMNIST(dir string) (train, test *Dataset, err error) {
	var missing []string
	for _, f := range MNISTFiles() {
		if _, err := os.Stat(filepath.Join(dir, f)); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("mlp: MNIST data not found in %s: missing %s: %w", dir, strings.Join(missing, ", "), fs.ErrNotExist)
	}
	if train, err = loadMNISTSet(dir, MNISTTrainImages, MNISTTrainLabels); err != nil {
		return nil, nil, err
	}
	if test, err = loadMNISTSet(dir, MNISTTestImages, MNISTTestLabels); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

func loadMNISTSet(dir, images, labels string) (*Dataset, error) {
	imgName, lblName := filepath.Join(dir, images), filepath.Join(dir, labels)
	img, err := ReadImages(imgName)
	if err != nil {
		return nil, err
	}
	lbl, err := ReadLabels(lblName)
	if err != nil {
		return nil, err
	}
	if img.N != len(lbl) {
		return nil, fmt.Errorf("mlp: %s holds %d images but %s holds %d labels", imgName, img.N, lblName, len(lbl))
	}
	d, err := ClassificationSet(img, lbl, 10)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, lblName)
	}
	return d, nil
}

// ClassificationSet returns a Dataset of the images, each pixel scaled to
// [0, 1] by /255 (kept as bytes in XBytes, with XDivisor 255), with one-hot
// targets of the given number of classes. It
// returns an error if the counts differ or a label is not below classes.
func ClassificationSet(img *Images, labels []byte, classes int) (*Dataset, error) {
	if img.N != len(labels) {
		return nil, fmt.Errorf("mlp: %d images but %d labels", img.N, len(labels))
	}
	in := img.Rows * img.Cols
	if len(img.Pixels) != img.N*in {
		return nil, fmt.Errorf("mlp: %d pixels for %d images of %d×%d", len(img.Pixels), img.N, img.Rows, img.Cols)
	}
	for i, l := range labels {
		if int(l) >= classes {
			return nil, fmt.Errorf("mlp: label %d of sample %d is not below %d", l, i, classes)
		}
	}
	d := &Dataset{XBytes: img.Pixels, XDivisor: 255, Y: make([]float32, img.N*classes), Inputs: in, Outputs: classes}
	for i, l := range labels {
		d.Y[i*classes+int(l)] = 1
	}
	return d, nil
}
