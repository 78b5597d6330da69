package face

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"contactd/classifier/models"
)

// ModelDir finds the installed face models (explicit if set): the directory
// holding face-api's weight manifests, scripts/setup.sh puts them in face/
// of the model directory.
func ModelDir(explicit string) (string, error) {
	if explicit != "" {
		p, err := models.Find("", filepath.Join(explicit, "face_expression_model-weights_manifest.json"))
		return filepath.Dir(p), err
	}
	p, err := models.Find(filepath.Join("face", "face_expression_model-weights_manifest.json"), "")
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// FeaturesAll computes the features of many crops on every core; progress,
// if set, is called as they finish.
func (n *ExpressionNet) FeaturesAll(ctx context.Context, imgs []*Image, progress func(done int)) ([][]float32, error) {
	out := make([][]float32, len(imgs))
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(imgs) {
					return
				}
				out[i] = n.Features(imgs[i])
				d := done.Add(1)
				if progress != nil && (d%64 == 0 || int(d) == len(imgs)) {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	return out, ctx.Err()
}
