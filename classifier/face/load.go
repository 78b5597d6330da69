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

// ClassifyAll classifies many crops on every core; progress, if set, is
// called as they finish.
func (n *ExpressionNet) ClassifyAll(ctx context.Context, imgs []*Image, progress func(done int)) ([][]float64, error) {
	return parallel(ctx, imgs, n.Classify, progress)
}

// FeatureMapsAll pools the feature maps of many crops over grid, on every core.
func (n *ExpressionNet) FeatureMapsAll(ctx context.Context, imgs []*Image, grid int, progress func(done int)) ([][]float32, error) {
	return parallel(ctx, imgs, func(m *Image) []float32 { return Pool(n.FeatureMap(m), grid) }, progress)
}

func parallel[T any](ctx context.Context, imgs []*Image, f func(*Image) T, progress func(done int)) ([]T, error) {
	out := make([]T, len(imgs))
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
				out[i] = f(imgs[i])
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

// ClassifyOwnAll runs a network with its own input (Tuned.Input) alone on
// every crop, on all cores.
func (t *Tuned) ClassifyOwnAll(ctx context.Context, imgs []*Image) ([][]float64, error) {
	return parallel(ctx, imgs, t.classifyOwn, nil)
}
