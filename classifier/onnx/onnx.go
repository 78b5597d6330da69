// Package onnx reads the parts of an ONNX model file that a hand-written
// forward pass needs: the graph's nodes and its tensors (initializers and
// Constant node values, also inside subgraphs), from the protobuf wire
// format. It is not a general ONNX runtime.
package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// Tensor is a named array of numbers.
type Tensor struct {
	Name  string
	Dims  []int64
	Type  int32 // ONNX TensorProto.DataType: 1 float, 6 int32, 7 int64, 9 bool, 11 double
	Float []float32
	Int   []int64
}

// Size is the product of the dimensions.
func (t *Tensor) Size() int {
	n := 1
	for _, d := range t.Dims {
		n *= int(d)
	}
	return n
}

// Attr is a node attribute (only the kinds Silero-style graphs use).
type Attr struct {
	Name   string
	F      float32
	I      int64
	S      string
	Ints   []int64
	Floats []float32
	T      *Tensor
	G      *Graph
}

// Node is one operator of a graph.
type Node struct {
	Name, Op      string
	Input, Output []string
	Attrs         []Attr
}

// Graph is a (sub)graph: nodes in order and its initializers.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []*Tensor
	Inputs       []string
	Outputs      []string
}

// Model is a decoded ONNX file.
type Model struct {
	IRVersion int64
	Producer  string
	Graph     *Graph
}

// Load reads an ONNX model file.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Parse decodes an ONNX ModelProto.
func Parse(b []byte) (*Model, error) {
	m := &Model{}
	err := fields(b, func(num int, wt int, v uint64, data []byte) error {
		switch {
		case num == 1 && wt == 0:
			m.IRVersion = int64(v)
		case num == 2 && wt == 2:
			m.Producer = string(data)
		case num == 7 && wt == 2:
			g, err := parseGraph(data)
			if err != nil {
				return fmt.Errorf("graph: %w", err)
			}
			m.Graph = g
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if m.Graph == nil {
		return nil, errors.New("not an ONNX model: no graph")
	}
	return m, nil
}

// Tensors returns every tensor of the graph by name: initializers and the
// values of Constant nodes, in the graph and (depth first) its subgraphs.
func (g *Graph) Tensors() map[string]*Tensor {
	out := map[string]*Tensor{}
	var walk func(g *Graph)
	walk = func(g *Graph) {
		for _, t := range g.Initializers {
			out[t.Name] = t
		}
		for _, n := range g.Nodes {
			for _, a := range n.Attrs {
				if n.Op == "Constant" && a.T != nil && len(n.Output) == 1 {
					t := *a.T
					t.Name = n.Output[0]
					out[t.Name] = &t
				}
				if a.G != nil {
					walk(a.G)
				}
			}
		}
	}
	walk(g)
	return out
}

func parseGraph(b []byte) (*Graph, error) {
	g := &Graph{}
	err := fields(b, func(num int, wt int, v uint64, data []byte) error {
		if wt != 2 {
			return nil
		}
		switch num {
		case 1:
			n, err := parseNode(data)
			if err != nil {
				return fmt.Errorf("node %d: %w", len(g.Nodes), err)
			}
			g.Nodes = append(g.Nodes, *n)
		case 2:
			g.Name = string(data)
		case 5:
			t, err := parseTensor(data)
			if err != nil {
				return fmt.Errorf("initializer %d: %w", len(g.Initializers), err)
			}
			g.Initializers = append(g.Initializers, t)
		case 11, 12:
			var name string
			_ = fields(data, func(num, wt int, _ uint64, d []byte) error {
				if num == 1 && wt == 2 {
					name = string(d)
				}
				return nil
			})
			if num == 11 {
				g.Inputs = append(g.Inputs, name)
			} else {
				g.Outputs = append(g.Outputs, name)
			}
		}
		return nil
	})
	return g, err
}

func parseNode(b []byte) (*Node, error) {
	n := &Node{}
	err := fields(b, func(num int, wt int, v uint64, data []byte) error {
		if wt != 2 {
			return nil
		}
		switch num {
		case 1:
			n.Input = append(n.Input, string(data))
		case 2:
			n.Output = append(n.Output, string(data))
		case 3:
			n.Name = string(data)
		case 4:
			n.Op = string(data)
		case 5:
			a, err := parseAttr(data)
			if err != nil {
				return fmt.Errorf("attribute: %w", err)
			}
			n.Attrs = append(n.Attrs, *a)
		}
		return nil
	})
	return n, err
}

func parseAttr(b []byte) (*Attr, error) {
	a := &Attr{}
	err := fields(b, func(num int, wt int, v uint64, data []byte) error {
		var err error
		switch {
		case num == 1 && wt == 2:
			a.Name = string(data)
		case num == 2 && wt == 5:
			a.F = math.Float32frombits(uint32(v))
		case num == 3 && wt == 0:
			a.I = int64(v)
		case num == 4 && wt == 2:
			a.S = string(data)
		case num == 5 && wt == 2:
			a.T, err = parseTensor(data)
		case num == 6 && wt == 2:
			a.G, err = parseGraph(data)
		case num == 7:
			a.Floats, err = appendFloats(a.Floats, wt, v, data)
		case num == 8:
			a.Ints, err = appendInts(a.Ints, wt, v, data)
		}
		return err
	})
	return a, err
}

func parseTensor(b []byte) (*Tensor, error) {
	t := &Tensor{}
	var raw []byte
	var doubles []float64
	err := fields(b, func(num int, wt int, v uint64, data []byte) error {
		var err error
		switch num {
		case 1:
			t.Dims, err = appendInts(t.Dims, wt, v, data)
		case 2:
			t.Type = int32(v)
		case 4:
			t.Float, err = appendFloats(t.Float, wt, v, data)
		case 5, 7:
			t.Int, err = appendInts(t.Int, wt, v, data)
		case 8:
			t.Name = string(data)
		case 9:
			raw = data
		case 10:
			if wt == 2 {
				for i := 0; i+8 <= len(data); i += 8 {
					doubles = append(doubles, math.Float64frombits(binary.LittleEndian.Uint64(data[i:])))
				}
			} else if wt == 1 {
				doubles = append(doubles, math.Float64frombits(v))
			}
		case 13, 14:
			if num == 14 && v == 1 {
				return errors.New("external data is not supported")
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, d := range doubles {
		t.Float = append(t.Float, float32(d))
	}
	if raw != nil {
		switch t.Type {
		case 1:
			if len(raw)%4 != 0 {
				return nil, fmt.Errorf("tensor %s: raw float data of %d bytes", t.Name, len(raw))
			}
			t.Float = make([]float32, len(raw)/4)
			for i := range t.Float {
				t.Float[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		case 11:
			for i := 0; i+8 <= len(raw); i += 8 {
				t.Float = append(t.Float, float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[i:]))))
			}
		case 7:
			for i := 0; i+8 <= len(raw); i += 8 {
				t.Int = append(t.Int, int64(binary.LittleEndian.Uint64(raw[i:])))
			}
		case 6:
			for i := 0; i+4 <= len(raw); i += 4 {
				t.Int = append(t.Int, int64(int32(binary.LittleEndian.Uint32(raw[i:]))))
			}
		case 9, 2, 3:
			for _, c := range raw {
				t.Int = append(t.Int, int64(int8(c)))
			}
		}
	}
	if n := t.Size(); len(t.Float) != 0 && len(t.Float) != n || len(t.Int) != 0 && len(t.Int) != n {
		return nil, fmt.Errorf("tensor %s: %d values for dims %v", t.Name, max(len(t.Float), len(t.Int)), t.Dims)
	}
	return t, nil
}

func appendInts(dst []int64, wt int, v uint64, data []byte) ([]int64, error) {
	if wt == 0 {
		return append(dst, int64(v)), nil
	}
	if wt != 2 {
		return dst, fmt.Errorf("wire type %d for integers", wt)
	}
	for len(data) > 0 {
		x, n := binary.Uvarint(data)
		if n <= 0 {
			return dst, errors.New("bad packed varint")
		}
		dst = append(dst, int64(x))
		data = data[n:]
	}
	return dst, nil
}

func appendFloats(dst []float32, wt int, v uint64, data []byte) ([]float32, error) {
	if wt == 5 {
		return append(dst, math.Float32frombits(uint32(v))), nil
	}
	if wt != 2 || len(data)%4 != 0 {
		return dst, fmt.Errorf("wire type %d / %d bytes for floats", wt, len(data))
	}
	for i := 0; i < len(data); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(data[i:])))
	}
	return dst, nil
}

// fields walks the protobuf fields of b: for varint and fixed fields v holds
// the value, for length-delimited ones data holds the bytes.
func fields(b []byte, fn func(num, wt int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("truncated field key")
		}
		b = b[n:]
		num, wt := int(key>>3), int(key&7)
		if num == 0 {
			return errors.New("field number 0")
		}
		var v uint64
		var data []byte
		switch wt {
		case 0:
			v, n = binary.Uvarint(b)
			if n <= 0 {
				return fmt.Errorf("field %d: truncated varint", num)
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return fmt.Errorf("field %d: truncated fixed64", num)
			}
			v, b = binary.LittleEndian.Uint64(b), b[8:]
		case 5:
			if len(b) < 4 {
				return fmt.Errorf("field %d: truncated fixed32", num)
			}
			v, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return fmt.Errorf("field %d: length %d past the end", num, l)
			}
			data, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return fmt.Errorf("field %d: unsupported wire type %d", num, wt)
		}
		if err := fn(num, wt, v, data); err != nil {
			return err
		}
	}
	return nil
}
