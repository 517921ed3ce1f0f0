package mlp

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
)

// IDX magic numbers: two zero bytes, the element type (0x08: unsigned
// byte) and the number of dimensions.
const (
	idxImages = 0x00000803
	idxLabels = 0x00000801
)

// maxIDXBytes bounds the data an IDX file may declare, far above MNIST's
// 47 MB, so that a corrupt header fails at once.
const maxIDXBytes = 1 << 34

// Images is a set of equally sized greyscale images, as stored in an IDX
// file: one byte per pixel, row by row, image after image.
type Images struct {
	// N is the number of images, each Rows×Cols pixels.
	N, Rows, Cols int
	// Pixels holds N×Rows×Cols bytes.
	Pixels []byte
}

// ReadImages reads an IDX file of unsigned-byte images (magic 0x00000803),
// gzip-compressed or not (it looks for gzip's magic number). Errors name
// the file and say what is wrong with it.
func ReadImages(name string) (*Images, error) {
	dims, data, err := readIDX(name, idxImages, "images")
	if err != nil {
		return nil, err
	}
	return &Images{N: dims[0], Rows: dims[1], Cols: dims[2], Pixels: data}, nil
}

// ReadLabels reads an IDX file of unsigned-byte labels (magic
// 0x00000801), gzip-compressed or not.
func ReadLabels(name string) ([]byte, error) {
	_, data, err := readIDX(name, idxLabels, "labels")
	return data, err
}

// readIDX reads an IDX file of unsigned bytes whose magic number is magic.
// It checks the size the header declares against the file before
// allocating for it: against the file's length for a plain file; for a
// gzip file, whose length is known only once it is read, by growing the
// buffer as data arrives, so that it never holds much more than the file
// contains.
func readIDX(name string, magic uint32, what string) (dims []int, data []byte, err error) {
	fail := func(format string, args ...any) ([]int, []byte, error) {
		return nil, nil, fmt.Errorf("mlp: %s: %s", name, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("mlp: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("mlp: %w", err)
	}
	br := bufio.NewReader(f)
	var r io.Reader = br
	var zr *gzip.Reader
	avail := int64(-1) // bytes after the header, if known
	if b, _ := br.Peek(2); len(b) == 2 && b[0] == 0x1f && b[1] == 0x8b {
		if zr, err = gzip.NewReader(br); err != nil {
			return fail("bad gzip data: %v", err)
		}
		r = zr
	}
	ndim := int(magic & 0xff)
	hdr := make([]byte, 4+4*ndim)
	if _, err := io.ReadFull(r, hdr); err != nil {
		if zr != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return fail("bad gzip data: %v", err)
		}
		return fail("truncated: the file ends inside the %d-byte IDX header", len(hdr))
	}
	if got := binary.BigEndian.Uint32(hdr); got != magic {
		return fail("wrong magic number 0x%08x, want 0x%08x (IDX %s): not an MNIST %s file", got, magic, what, what)
	}
	if zr == nil {
		avail = st.Size() - int64(len(hdr))
	}
	dims = make([]int, ndim)
	size := int64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(hdr[4+4*i:])
		if i > 0 && d == 0 {
			return fail("header gives a zero dimension")
		}
		dims[i] = int(d)
		size *= int64(d)
		if size > maxIDXBytes {
			return fail("header declares more than %d bytes of %s (dimensions %v)", int64(maxIDXBytes), what, dimsString(hdr[4:], ndim))
		}
	}
	if avail >= 0 && size > avail {
		return fail("header declares %s (%d bytes) but the file holds only %d bytes after the header", describe(what, dims), size, avail)
	}
	// Read in chunks that at most double what has arrived.
	data = make([]byte, 0, min(size, 1<<20))
	for int64(len(data)) < size {
		k := int(min(size-int64(len(data)), int64(max(len(data), 1<<20))))
		data = slices.Grow(data, k)
		m, err := io.ReadFull(r, data[len(data):len(data)+k])
		data = data[:len(data)+m]
		if err != nil {
			if zr != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
				return fail("bad gzip data: %v", err)
			}
			return fail("truncated: the header declares %s (%d bytes) but the file holds only %d", describe(what, dims), size, len(data))
		}
	}
	if zr != nil {
		// Read to the end so that gzip verifies its checksum.
		if _, err := io.Copy(io.Discard, zr); err != nil {
			return fail("bad gzip data: %v", err)
		}
	}
	return dims, data, nil
}

func describe(what string, dims []int) string {
	if len(dims) == 3 {
		return fmt.Sprintf("%d images of %d×%d pixels", dims[0], dims[1], dims[2])
	}
	return fmt.Sprintf("%d %s", dims[0], what)
}

func dimsString(b []byte, n int) []uint32 {
	d := make([]uint32, n)
	for i := range d {
		d[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return d
}
