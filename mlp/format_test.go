package mlp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gokernels/gemm"
)

func saved(t *testing.T, n *Network) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := n.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSaveLoad(t *testing.T) {
	arch := Architecture{Sizes: []int{7, 5, 4, 3}, Activations: []Activation{ReLU, Tanh, Softmax}, Loss: SoftmaxCrossEntropy}
	n, err := New(arch, 42)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n.layers[1].B {
		n.layers[1].B[i] = float32(i) - 1.5
	}
	data := saved(t, n)
	if want := 8 + 4 + 11 + 4 + 4*4 + 5 + 5 + 8 + (8*5+6*4+5*3)*4 + 4; len(data) != want {
		t.Errorf("file size %d, want %d", len(data), want)
	}
	m, err := Load(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got := m.Architecture()
	if !slices.Equal(got.Sizes, arch.Sizes) || !slices.Equal(got.Activations, arch.Activations) || got.Loss != arch.Loss {
		t.Errorf("architecture %+v, want %+v", got, arch)
	}
	if !sameBits(m.Params(), n.Params()) {
		t.Error("parameters differ after a round trip")
	}
	// The loaded network computes the same outputs.
	tl := gemm.NewTiler(1, gemm.Rows)
	defer tl.Close()
	n.SetTilers(tl, nil)
	m.SetTilers(tl, nil)
	x := make([]float32, 3*7)
	for i := range x {
		x[i] = float32(i%5) - 2
	}
	a, b := make([]float32, 9), make([]float32, 9)
	n.Predict(a, x, 3)
	m.Predict(b, x, 3)
	if !sameBits(a, b) {
		t.Errorf("outputs %v, loaded network gives %v", a, b)
	}

	// Files.
	dir := t.TempDir()
	name := filepath.Join(dir, "net.mlp")
	if err := n.SaveFile(name); err != nil {
		t.Fatal(err)
	}
	if m, err = LoadFile(name); err != nil || !sameBits(m.Params(), n.Params()) {
		t.Errorf("LoadFile: %v", err)
	}
	os.WriteFile(name, append(slices.Clone(data), 0), 0o644)
	if _, err := LoadFile(name); err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "1 bytes after") || !strings.Contains(err.Error(), name) {
		t.Errorf("trailing byte: error %v", err)
	}
	missing := filepath.Join(dir, "missing.mlp")
	if _, err := LoadFile(missing); err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v", err)
	}
}

// rechecksum replaces the checksum at the end of a file.
func rechecksum(b []byte) []byte {
	b = slices.Clone(b)
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
	return b
}

func TestLoadErrors(t *testing.T) {
	n, _ := New(Architecture{Sizes: []int{3, 2}, Activations: []Activation{Sigmoid}, Loss: CrossEntropy}, 1)
	good := saved(t, n)
	// Every proper prefix is truncated.
	for i := range good {
		_, err := Load(bytes.NewReader(good[:i]))
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("prefix of %d bytes: error %v", i, err)
		}
	}
	mod := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "wrong magic number"},
		{"text", []byte("hello, world, this is not a network"), "wrong magic number"},
		{"version", mod(func(b []byte) []byte { b[8] = 2; return rechecksum(b) }), "unsupported format version 2"},
		{"weight", mod(func(b []byte) []byte { b[len(b)-6] ^= 1; return b }), "checksum mismatch"},
		{"checksum", mod(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), "checksum mismatch"},
		{"loss", mod(func(b []byte) []byte { copy(b[13:16], "xyz"); return rechecksum(b) }), `unknown loss "xyz"`},
		{"activation", mod(func(b []byte) []byte { b[29] = 'S'; return rechecksum(b) }), `unknown activation "Sigmoid"`},
		{"zero width", mod(func(b []byte) []byte { b[20] = 0; return rechecksum(b) }), "layer size 0"},
		{"zero layers", mod(func(b []byte) []byte { b[16] = 0; return rechecksum(b) }), "0 layers"},
	} {
		_, err := Load(bytes.NewReader(c.data))
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestLoadHugeHeader checks that a header promising a billion parameters
// fails as truncated without allocating for them.
func TestLoadHugeHeader(t *testing.T) {
	var b []byte
	b = append(b, fileMagic...)
	b = binary.LittleEndian.AppendUint32(b, fileVersion)
	b = appendString(b, "mse")
	b = binary.LittleEndian.AppendUint32(b, 2)
	for _, s := range []uint32{1 << 15, 1 << 14, 1} {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	b = appendString(b, "relu")
	b = appendString(b, "identity")
	b = append(b, make([]byte, 1000)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Load(bytes.NewReader(b))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("error %v, want truncated", err)
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
		t.Errorf("allocated %d bytes for a 1 KB file", a)
	}
}
