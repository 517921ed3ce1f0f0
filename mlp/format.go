package mlp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"strings"
)

// Magic number and version of the network file format (see Save).
const (
	fileMagic   = "\x89MLPNET\n"
	fileVersion = 1
)

// ErrFormat is wrapped by the errors Load returns for data that is not a
// valid network file: a foreign or corrupt file, an unsupported version,
// a checksum mismatch or a truncated file.
var ErrFormat = errors.New("not a valid network file")

// formatError returns an error wrapping ErrFormat.
func formatError(format string, args ...any) error {
	return fmt.Errorf("mlp: %w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// Save writes the network's architecture and parameters to w in this
// format, version 1, all integers little-endian:
//
//	magic        8 bytes         "\x89MLPNET\n"
//	version      uint32          1
//	loss         string          the Loss's name: cce, softmax-ce or mse
//	layers       uint32          L, the number of dense layers, 1 … 1024
//	sizes        (L+1) × uint32  the layer widths, inputs first
//	activations  L × string      each layer's Activation name
//	parameters   float32 …       for each layer its In×Out weights,
//	                             row-major, then its Out biases (IEEE 754
//	                             bits, as Params orders them)
//	checksum     uint32          CRC-32 (IEEE) of all the bytes before it
//
// A string is a uint8 length followed by that many bytes.
func (n *Network) Save(w io.Writer) error {
	h := crc32.NewIEEE()
	var buf []byte
	buf = append(buf, fileMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, fileVersion)
	buf = appendString(buf, n.arch.Loss.String())
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(n.layers)))
	for _, s := range n.arch.Sizes {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(s))
	}
	for _, a := range n.arch.Activations {
		buf = appendString(buf, a.String())
	}
	for _, p := range n.params {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(p))
	}
	h.Write(buf)
	buf = binary.LittleEndian.AppendUint32(buf, h.Sum32())
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("mlp: saving network: %w", err)
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// SaveFile writes the network to the named file (see Save).
func (n *Network) SaveFile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("mlp: %w", err)
	}
	if err := n.Save(f); err != nil {
		f.Close()
		return fmt.Errorf("%w (%s)", err, name)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mlp: %w", err)
	}
	return nil
}

// reader reads the fields of a network file and checksums what it reads.
type reader struct {
	r   io.Reader
	crc hash.Hash32
	err error
	buf [8]byte
}

func (r *reader) read(p []byte, what string) {
	if r.err != nil {
		return
	}
	if _, err := io.ReadFull(r.r, p); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			r.err = formatError("truncated: the data ends inside the %s", what)
		} else {
			r.err = fmt.Errorf("mlp: reading network: %w", err)
		}
		return
	}
	r.crc.Write(p)
}

func (r *reader) uint32(what string) uint32 {
	r.read(r.buf[:4], what)
	return binary.LittleEndian.Uint32(r.buf[:4])
}

func (r *reader) string(what string) string {
	r.read(r.buf[:1], what)
	if r.err != nil {
		return ""
	}
	b := make([]byte, r.buf[0])
	r.read(b, what)
	return string(b)
}

// Load reads a network written by Save from r, reading no further than its
// end. The network has no Tiler yet. Data that is not a valid network file
// gives an error wrapping ErrFormat that says what is wrong.
func Load(r io.Reader) (*Network, error) {
	rd := &reader{r: r, crc: crc32.NewIEEE()}
	var magic [len(fileMagic)]byte
	rd.read(magic[:], "header")
	if rd.err != nil {
		return nil, rd.err
	}
	if string(magic[:]) != fileMagic {
		return nil, formatError("wrong magic number %q (want %q)", magic[:], fileMagic)
	}
	if v := rd.uint32("header"); rd.err == nil && v != fileVersion {
		return nil, formatError("unsupported format version %d (this program reads version %d)", v, fileVersion)
	}
	lossName := rd.string("header")
	layers := rd.uint32("header")
	if rd.err != nil {
		return nil, rd.err
	}
	loss, err := ParseLoss(lossName)
	if err != nil {
		return nil, formatError("unknown loss %q", lossName)
	}
	if layers < 1 || layers > maxLayers {
		return nil, formatError("%d layers (want 1 to %d)", layers, maxLayers)
	}
	arch := Architecture{Loss: loss, Sizes: make([]int, layers+1), Activations: make([]Activation, layers)}
	for i := range arch.Sizes {
		arch.Sizes[i] = int(rd.uint32("layer sizes"))
	}
	for i := range arch.Activations {
		name := rd.string("activations")
		if rd.err != nil {
			break
		}
		if arch.Activations[i], err = ParseActivation(name); err != nil {
			return nil, formatError("unknown activation %q", name)
		}
	}
	if rd.err != nil {
		return nil, rd.err
	}
	if err := arch.Validate(); err != nil {
		return nil, formatError("%s", strings.TrimPrefix(err.Error(), "mlp: "))
	}
	// The parameters are read in chunks into a slice that grows with what
	// the file holds, so that a header promising more than the file holds
	// fails without allocating for the promise.
	total := 0
	for l := range arch.Activations {
		total += (arch.Sizes[l] + 1) * arch.Sizes[l+1]
	}
	params := make([]float32, 0, min(total, 1<<16))
	var chunk [4096]byte
	for len(params) < total {
		k := min(total-len(params), len(chunk)/4)
		rd.read(chunk[:4*k], "parameters")
		if rd.err != nil {
			return nil, rd.err
		}
		for i := range k {
			params = append(params, math.Float32frombits(binary.LittleEndian.Uint32(chunk[4*i:])))
		}
	}
	want := rd.crc.Sum32()
	got := rd.uint32("checksum")
	if rd.err != nil {
		return nil, rd.err
	}
	if got != want {
		return nil, formatError("checksum mismatch (stored %08x, computed %08x): the file is corrupt", got, want)
	}
	n, err := newNetwork(arch)
	if err != nil {
		return nil, err // Validate passed above
	}
	copy(n.params, params)
	return n, nil
}

// LoadFile reads a network from the named file (see Load). Bytes after the
// network are an error.
func LoadFile(name string) (*Network, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("mlp: %w", err)
	}
	defer f.Close()
	n, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, name)
	}
	if k, _ := io.Copy(io.Discard, f); k > 0 {
		return nil, fmt.Errorf("mlp: %w: %d bytes after the end of the network (%s)", ErrFormat, k, name)
	}
	return n, nil
}
