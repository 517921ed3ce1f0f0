package mlp

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// idxFile returns the bytes of an IDX file with the magic, dimensions and
// data, gzip-compressed if gz.
func idxFile(t *testing.T, magic uint32, dims []uint32, data []byte, gz bool) []byte {
	t.Helper()
	var b []byte
	b = binary.BigEndian.AppendUint32(b, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	b = append(b, data...)
	if !gz {
		return b
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestReadIDX(t *testing.T) {
	dir := t.TempDir()
	for _, gz := range []bool{false, true} {
		img := writeFile(t, dir, "img", idxFile(t, idxImages, []uint32{3, 2, 4}, seq(24), gz))
		got, err := ReadImages(img)
		if err != nil {
			t.Fatalf("gzip %v: %v", gz, err)
		}
		if got.N != 3 || got.Rows != 2 || got.Cols != 4 || !bytes.Equal(got.Pixels, seq(24)) {
			t.Errorf("gzip %v: images %+v", gz, got)
		}
		lbl := writeFile(t, dir, "lbl", idxFile(t, idxLabels, []uint32{5}, []byte{1, 2, 3, 4, 5}, gz))
		labels, err := ReadLabels(lbl)
		if err != nil || !bytes.Equal(labels, []byte{1, 2, 3, 4, 5}) {
			t.Errorf("gzip %v: labels %v, %v", gz, labels, err)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	dir := t.TempDir()
	gzipped := idxFile(t, idxImages, []uint32{3, 2, 2}, seq(12), true)
	badCRC := slices.Clone(gzipped)
	badCRC[len(badCRC)-8] ^= 0xff
	for _, c := range []struct {
		name   string
		data   []byte
		labels bool
		want   string
	}{
		{"empty", nil, false, "truncated: the file ends inside the 16-byte IDX header"},
		{"short header", []byte{0, 0, 8, 3, 0, 0}, false, "truncated: the file ends inside the 16-byte IDX header"},
		{"short header gz", idxFile(t, idxLabels, nil, []byte{0, 0}, true), true, "truncated: the file ends inside the 8-byte IDX header"},
		{"labels as images", idxFile(t, idxLabels, []uint32{3, 0, 0}, nil, false), false, "wrong magic number 0x00000801, want 0x00000803 (IDX images)"},
		{"images as labels", idxFile(t, idxImages, []uint32{3}, nil, true), true, "wrong magic number 0x00000803, want 0x00000801 (IDX labels)"},
		{"text", []byte("this is not an IDX file at all"), false, "wrong magic number 0x74686973"},
		{"zero rows", idxFile(t, idxImages, []uint32{3, 0, 2}, nil, false), false, "zero dimension"},
		{"short data", idxFile(t, idxImages, []uint32{3, 2, 2}, seq(5), false), false,
			"header declares 3 images of 2×2 pixels (12 bytes) but the file holds only 5 bytes after the header"},
		{"short data gz", idxFile(t, idxImages, []uint32{3, 2, 2}, seq(5), true), false,
			"truncated: the header declares 3 images of 2×2 pixels (12 bytes) but the file holds only 5"},
		{"short labels", idxFile(t, idxLabels, []uint32{10}, seq(9), false), true,
			"header declares 10 labels (10 bytes) but the file holds only 9 bytes after the header"},
		{"huge", idxFile(t, idxImages, []uint32{0xffffffff, 28, 28}, seq(5), false), false, "header declares more than"},
		{"cut gzip", gzipped[:len(gzipped)-12], false, "bad gzip data: unexpected EOF"},
		{"gzip checksum", badCRC, false, "bad gzip data: gzip: invalid checksum"},
		{"gzip header", []byte{0x1f, 0x8b, 1, 2, 3}, false, "bad gzip data"},
	} {
		p := writeFile(t, dir, strings.ReplaceAll(c.name, " ", "-"), c.data)
		var err error
		if c.labels {
			_, err = ReadLabels(p)
		} else {
			_, err = ReadImages(p)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", c.name, err, c.want)
		}
	}
	missing := filepath.Join(dir, "nothing-here.gz")
	if _, err := ReadImages(missing); err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v", err)
	}
}

// TestReadIDXNoHugeAllocation checks that a small gzip file whose header
// declares 47 MB of images fails without allocating anything like that.
func TestReadIDXNoHugeAllocation(t *testing.T) {
	p := writeFile(t, t.TempDir(), "lie.gz", idxFile(t, idxImages, []uint32{60000, 28, 28}, seq(1000), true))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := ReadImages(p)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "holds only 1000") {
		t.Errorf("error %v", err)
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > 4<<20 {
		t.Errorf("allocated %d bytes for a 1000-byte image file", a)
	}
}

// mnistDir writes the four MNIST files, small, into a new directory.
func mnistDir(t *testing.T, train, test int) string {
	dir := t.TempDir()
	for _, s := range []struct {
		img, lbl string
		n        int
	}{{MNISTTrainImages, MNISTTrainLabels, train}, {MNISTTestImages, MNISTTestLabels, test}} {
		px := make([]byte, s.n*28*28)
		labels := make([]byte, s.n)
		for i := range labels {
			labels[i] = byte(i % 10)
			px[i*784+i%784] = 255
		}
		writeFile(t, dir, s.img, idxFile(t, idxImages, []uint32{uint32(s.n), 28, 28}, px, true))
		writeFile(t, dir, s.lbl, idxFile(t, idxLabels, []uint32{uint32(s.n)}, labels, true))
	}
	return dir
}

func TestLoadMNIST(t *testing.T) {
	dir := mnistDir(t, 30, 20)
	train, test, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 30 || test.Len() != 20 || train.Inputs != 784 || train.Outputs != 10 {
		t.Fatalf("train %d×%d→%d, test %d", train.Len(), train.Inputs, train.Outputs, test.Len())
	}
	if train.X != nil || train.XDivisor != 255 || train.XBytes[7*784+7] != 255 || train.XBytes[7*784+8] != 0 || train.Y[7*10+7] != 1 || train.Y[7*10+6] != 0 {
		t.Error("sample 7 is wrong")
	}

	// Mismatched counts name both files.
	writeFile(t, dir, MNISTTestLabels, idxFile(t, idxLabels, []uint32{19}, make([]byte, 19), true))
	_, _, err = LoadMNIST(dir)
	if err == nil || !strings.Contains(err.Error(), "holds 20 images but") || !strings.Contains(err.Error(), filepath.Join(dir, MNISTTestLabels)+" holds 19 labels") {
		t.Errorf("count mismatch: error %v", err)
	}
	// A label that is not a digit.
	writeFile(t, dir, MNISTTestLabels, idxFile(t, idxLabels, []uint32{20}, append(make([]byte, 19), 12), true))
	if _, _, err = LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "label 12 of sample 19") {
		t.Errorf("bad label: error %v", err)
	}
	// Missing files are listed.
	os.Remove(filepath.Join(dir, MNISTTrainImages))
	os.Remove(filepath.Join(dir, MNISTTestLabels))
	_, _, err = LoadMNIST(dir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing "+MNISTTrainImages+", "+MNISTTestLabels) {
		t.Errorf("missing files: error %v", err)
	}
}
