package face

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// A tfjs weights manifest: groups of shard files holding the named weights
// back to back, each float32 or quantised to uint8/uint16 with a scale and
// a minimum (value = q*scale + min).
type manifestGroup struct {
	Paths   []string `json:"paths"`
	Weights []struct {
		Name         string `json:"name"`
		Shape        []int  `json:"shape"`
		Dtype        string `json:"dtype"`
		Quantization *struct {
			Dtype string  `json:"dtype"`
			Scale float64 `json:"scale"`
			Min   float64 `json:"min"`
		} `json:"quantization"`
	} `json:"weights"`
}

// weight is one decoded tensor.
type weight struct {
	shape []int
	data  []float32
}

// loadManifest reads a tfjs weights manifest and its shards (beside it).
func loadManifest(path string) (map[string]weight, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseManifest(b, path, func(name string) ([]byte, error) {
		if filepath.Base(name) != name {
			return nil, fmt.Errorf("shard %q is not a file beside the manifest", name)
		}
		return os.ReadFile(filepath.Join(filepath.Dir(path), name))
	})
}

// parseManifest decodes a manifest; shard reads a shard by its name. Errors
// name the manifest and the weight.
func parseManifest(b []byte, name string, shard func(string) ([]byte, error)) (map[string]weight, error) {
	var groups []manifestGroup
	if err := json.Unmarshal(b, &groups); err != nil {
		return nil, fmt.Errorf("%s: not a tfjs weights manifest: %w", name, err)
	}
	out := map[string]weight{}
	for gi, g := range groups {
		var data []byte
		for _, p := range g.Paths {
			s, err := shard(p)
			if err != nil {
				return nil, fmt.Errorf("%s: group %d: %w", name, gi, err)
			}
			data = append(data, s...)
		}
		off := 0
		for _, w := range g.Weights {
			n := 1
			for _, d := range w.Shape {
				if d <= 0 || d > 1<<20 {
					return nil, fmt.Errorf("%s: weight %s: bad shape %v", name, w.Name, w.Shape)
				}
				n *= d
				if n > 1<<26 {
					return nil, fmt.Errorf("%s: weight %s: shape %v too large", name, w.Name, w.Shape)
				}
			}
			if w.Dtype != "float32" {
				return nil, fmt.Errorf("%s: weight %s: dtype %q (want float32)", name, w.Name, w.Dtype)
			}
			vals := make([]float32, n)
			q := w.Quantization
			size := 4
			if q != nil {
				switch q.Dtype {
				case "uint8":
					size = 1
				case "uint16":
					size = 2
				default:
					return nil, fmt.Errorf("%s: weight %s: quantization dtype %q (want uint8 or uint16)", name, w.Name, q.Dtype)
				}
			}
			if off+n*size > len(data) {
				return nil, fmt.Errorf("%s: weight %s: the shards end at byte %d, the weight needs %d", name, w.Name, len(data), off+n*size)
			}
			raw := data[off : off+n*size]
			off += n * size
			for i := range vals {
				switch size {
				case 1:
					vals[i] = float32(float64(raw[i])*q.Scale + q.Min)
				case 2:
					vals[i] = float32(float64(binary.LittleEndian.Uint16(raw[2*i:]))*q.Scale + q.Min)
				default:
					vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				}
			}
			out[w.Name] = weight{shape: slices.Clone(w.Shape), data: vals}
		}
		if off != len(data) {
			return nil, fmt.Errorf("%s: group %d: %d bytes of the shards are not described by the manifest", name, gi, len(data)-off)
		}
	}
	return out, nil
}

// take returns a weight of the given shape, or an error naming it.
func take(ws map[string]weight, name string, shape ...int) ([]float32, error) {
	w, ok := ws[name]
	if !ok {
		return nil, fmt.Errorf("weight %s is missing", name)
	}
	if !slices.Equal(w.shape, shape) {
		return nil, fmt.Errorf("weight %s has shape %v, want %v", name, w.shape, shape)
	}
	return w.data, nil
}
