//! Random shifts and horizontal flips of image batches, drawn from the seeded CPU generator.

use super::dataset::InputShape;
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// Data augmentation settings. The default (no shift, no flip) leaves batches unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Largest shift in pixels, drawn uniformly in `[-max_shift, max_shift]` for x and for y;
    /// uncovered pixels become 0.
    pub max_shift: usize,
    /// Whether to flip each image left-right with probability 1/2.
    pub hflip: bool,
}

impl Augment {
    /// Whether these settings leave every batch unchanged.
    pub fn is_identity(&self) -> bool {
        self.max_shift == 0 && !self.hflip
    }
}

/// Writes `src` (one `channels x height x width` image) into `dst`, flipped left-right first if
/// `flip`, then moved by `dx` columns and `dy` rows; pixels shifted in are 0.
fn shift_image(
    src: &[f32],
    dst: &mut [f32],
    (channels, height, width): (usize, usize, usize),
    dx: isize,
    dy: isize,
    flip: bool,
) {
    dst.fill(0.0);
    let (h, w) = (height as isize, width as isize);
    // output columns [x0, x1) read source columns x - dx
    let x0 = dx.clamp(0, w);
    let x1 = (w + dx).clamp(0, w);
    if x0 >= x1 {
        return;
    }
    let (x0, x1) = (x0 as usize, x1 as usize);
    let sx0 = (x0 as isize - dx) as usize;
    for c in 0..channels {
        let plane = c * height * width;
        for y in 0..h {
            let sy = y - dy;
            if !(0..h).contains(&sy) {
                continue;
            }
            let out = &mut dst[plane + y as usize * width..][x0..x1];
            let row = &src[plane + sy as usize * width..][..width];
            if flip {
                // source column of output x is width - 1 - (x - dx)
                for (k, o) in out.iter_mut().enumerate() {
                    *o = row[width - 1 - (sx0 + k)];
                }
            } else {
                out.copy_from_slice(&row[sx0..sx0 + (x1 - x0)]);
            }
        }
    }
}

/// Augments a batch in place: each image gets its own random shift and, if enabled, a random
/// left-right flip.
///
/// `batch` holds whole examples of `shape` one after another; a trailing partial example is
/// left untouched. Per image the draws are: `dx` then `dy` (each `rng.below(2 * max_shift + 1)`
/// minus `max_shift`, only when `max_shift > 0`), then the flip (`rng.below(2) == 1`, only when
/// `hflip`). Vector shapes, and settings that are the identity, leave the batch unchanged and
/// draw nothing.
pub fn augment_batch(batch: &mut [f32], shape: InputShape, aug: &Augment, rng: &mut SplitMix64) {
    let InputShape::Image {
        channels,
        height,
        width,
    } = shape
    else {
        return;
    };
    let numel = shape.numel();
    if aug.is_identity() || numel == 0 {
        return;
    }
    let m = aug.max_shift as isize;
    let mut src = vec![0.0f32; numel];
    for image in batch.chunks_exact_mut(numel) {
        let (dx, dy) = if m > 0 {
            let span = 2 * aug.max_shift + 1;
            let dx = rng.below(span) as isize - m;
            let dy = rng.below(span) as isize - m;
            (dx, dy)
        } else {
            (0, 0)
        };
        let flip = aug.hflip && rng.below(2) == 1;
        if dx == 0 && dy == 0 && !flip {
            continue;
        }
        src.copy_from_slice(image);
        shift_image(&src, image, (channels, height, width), dx, dy, flip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: InputShape = InputShape::Image {
        channels: 2,
        height: 5,
        width: 7,
    };

    fn ramp(n: usize) -> Vec<f32> {
        (0..n * SHAPE.numel()).map(|i| i as f32 + 1.0).collect()
    }

    fn lit(y: usize, x: usize) -> Vec<f32> {
        let mut v = vec![0.0; SHAPE.numel()];
        v[35 + y * 7 + x] = 1.0; // channel 1
        v
    }

    #[test]
    fn shift_moves_a_lit_pixel_by_the_drawn_amount() {
        let aug = Augment {
            max_shift: 2,
            hflip: false,
        };
        let mut rng = SplitMix64::new(11);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut replay = rng.clone();
            let dx = replay.below(5) as isize - 2;
            let dy = replay.below(5) as isize - 2;
            seen.insert((dx, dy));
            let mut img = lit(2, 3);
            augment_batch(&mut img, SHAPE, &aug, &mut rng);
            let (ty, tx) = ((2 + dy) as usize, (3 + dx) as usize);
            assert_eq!(img, lit(ty, tx), "shift ({dx}, {dy})");
        }
        assert_eq!(seen.len(), 25, "every shift in [-2, 2]^2 should occur");
    }

    #[test]
    fn pixels_shifted_out_are_dropped_and_zero_filled() {
        let src = lit(0, 6);
        let mut dst = vec![9.0; SHAPE.numel()];
        shift_image(&src, &mut dst, (2, 5, 7), 1, 0, false);
        assert!(dst.iter().all(|&v| v == 0.0));
        shift_image(&src, &mut dst, (2, 5, 7), -6, 4, false);
        assert_eq!(dst, lit(4, 0));
        shift_image(&src, &mut dst, (2, 5, 7), 0, 0, true);
        assert_eq!(dst, lit(0, 0));
        shift_image(&src, &mut dst, (2, 5, 7), 2, 1, true);
        assert_eq!(dst, lit(1, 2));
        shift_image(&src, &mut dst, (2, 5, 7), 30, -30, true);
        assert!(dst.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn identity_settings_and_vectors_are_unchanged() {
        let mut rng = SplitMix64::new(1);
        let mut b = ramp(3);
        augment_batch(&mut b, SHAPE, &Augment::default(), &mut rng);
        assert_eq!(b, ramp(3));
        let aug = Augment {
            max_shift: 3,
            hflip: true,
        };
        let mut v: Vec<f32> = (0..10).map(|i| i as f32).collect();
        augment_batch(&mut v, InputShape::Vector { dim: 2 }, &aug, &mut rng);
        assert_eq!(v, (0..10).map(|i| i as f32).collect::<Vec<_>>());
        // nothing was drawn
        assert_eq!(rng.next_u64(), SplitMix64::new(1).next_u64());
    }

    #[test]
    fn flipping_twice_is_the_identity_and_flips_about_half() {
        let src = ramp(1);
        let mut once = vec![0.0; src.len()];
        let mut twice = vec![0.0; src.len()];
        shift_image(&src, &mut once, (2, 5, 7), 0, 0, true);
        assert_ne!(once, src);
        assert!((once[0] - src[6]).abs() < 1e-6 && (once[36] - src[40]).abs() < 1e-6);
        shift_image(&once, &mut twice, (2, 5, 7), 0, 0, true);
        assert_eq!(twice, src);

        let aug = Augment {
            max_shift: 0,
            hflip: true,
        };
        let mut b = ramp(400);
        let orig = b.clone();
        augment_batch(&mut b, SHAPE, &aug, &mut SplitMix64::new(4));
        let n = SHAPE.numel();
        let flipped = (0..400)
            .filter(|&i| b[i * n..(i + 1) * n] != orig[i * n..(i + 1) * n])
            .count();
        assert!((150..250).contains(&flipped), "{flipped} of 400 flipped");
        for i in 0..400 {
            let mut back = vec![0.0; n];
            shift_image(&b[i * n..(i + 1) * n], &mut back, (2, 5, 7), 0, 0, true);
            let ex = &b[i * n..(i + 1) * n];
            assert!(ex == &orig[i * n..(i + 1) * n] || back == orig[i * n..(i + 1) * n]);
        }
    }
}
