package onnx

import (
	"encoding/binary"
	"math"
	"testing"

	"contactd/classifier/models"
)

// pb builds protobuf fields for the tests.
type pb []byte

func (b pb) varint(num int, v uint64) pb {
	b = binary.AppendUvarint(b, uint64(num)<<3)
	return binary.AppendUvarint(b, v)
}

func (b pb) bytes(num int, data []byte) pb {
	b = binary.AppendUvarint(b, uint64(num)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(data)))
	return append(b, data...)
}

func floatTensor(name string, dims []int64, vals []float32) []byte {
	var t pb
	for _, d := range dims {
		t = t.varint(1, uint64(d))
	}
	t = t.varint(2, 1)
	t = t.bytes(8, []byte(name))
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return t.bytes(9, raw)
}

// A Constant node inside an If's subgraph is found by Tensors, as Silero's
// exporter stores its weights.
func TestTensorsInSubgraphs(t *testing.T) {
	attrT := pb(nil).bytes(1, []byte("value")).bytes(5, floatTensor("", []int64{2, 2}, []float32{1, 2, 3, 4}))
	constant := pb(nil).bytes(2, []byte("w")).bytes(4, []byte("Constant")).bytes(5, attrT)
	sub := pb(nil).bytes(1, constant).bytes(2, []byte("then"))
	attrG := pb(nil).bytes(1, []byte("then_branch")).bytes(6, sub)
	ifNode := pb(nil).bytes(1, []byte("cond")).bytes(2, []byte("y")).bytes(4, []byte("If")).bytes(5, attrG)
	graph := pb(nil).bytes(1, ifNode).bytes(5, floatTensor("init", []int64{3}, []float32{5, 6, 7}))
	model := pb(nil).varint(1, 8).bytes(7, graph)
	m, err := Parse(model)
	if err != nil {
		t.Fatal(err)
	}
	ts := m.Graph.Tensors()
	if w := ts["w"]; w == nil || len(w.Float) != 4 || w.Float[3] != 4 || w.Dims[1] != 2 {
		t.Errorf("constant in subgraph: %+v", w)
	}
	if in := ts["init"]; in == nil || in.Float[2] != 7 {
		t.Errorf("initializer: %+v", in)
	}
	// A tensor whose data does not match its dims is an error, not a panic.
	bad := pb(nil).bytes(7, pb(nil).bytes(5, floatTensor("x", []int64{4}, []float32{1})))
	if _, err := Parse(bad); err == nil {
		t.Error("a 4-element tensor with 1 value parsed")
	}
	if _, err := Parse([]byte("not protobuf at all")); err == nil {
		t.Error("text parsed as a model")
	}
}

// The installed Silero model parses, with its 16 kHz weights.
func TestSileroFile(t *testing.T) {
	p, err := models.Find(models.SileroVAD, "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	w := m.Graph.Tensors()["If_0_then_branch__Inline_0__decoder.rnn.weight_ih"]
	if w == nil || w.Size() != 512*128 || len(w.Float) != 512*128 {
		t.Fatalf("LSTM weights: %+v", w)
	}
}

// FuzzParse: any bytes give a model or an error, never a panic or a hang.
func FuzzParse(f *testing.F) {
	attrT := pb(nil).bytes(1, []byte("value")).bytes(5, floatTensor("", []int64{2}, []float32{1, 2}))
	node := pb(nil).bytes(2, []byte("w")).bytes(4, []byte("Constant")).bytes(5, attrT)
	f.Add([]byte(pb(nil).varint(1, 8).bytes(7, pb(nil).bytes(1, node))))
	f.Add([]byte{0x3a, 0x05, 0x0a, 0x03, 0x22, 0x01, 0x41})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err == nil {
			m.Graph.Tensors()
		}
	})
}
