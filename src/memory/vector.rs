//! Vector arithmetic for embedding search: cosine similarity, the 1-bit sign sketch
//! scanned in the first pass, and Hamming distance between sketches.

/// The sign sketch of a vector: bit i is set when component i is positive.
pub fn sketch(v: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; v.len().div_ceil(8)];
    for (i, x) in v.iter().enumerate() {
        if *x > 0.0 {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

/// Number of differing bits between two sketches of the same length.
pub fn hamming(a: &[u8], b: &[u8]) -> u32 {
    let mut d = 0;
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(y.try_into().unwrap_or([0; 8]));
        d += (x ^ y).count_ones();
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        d += (x ^ y).count_ones();
    }
    d
}

/// Cosine similarity; 0 when either vector is zero or the lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketch_sets_positive_components() {
        assert_eq!(
            sketch(&[1.0, -1.0, 0.5, 0.0, 2.0, -3.0, 1.0, 1.0, 1.0]),
            vec![0b1101_0101, 1]
        );
    }

    #[test]
    fn hamming_counts_differing_bits() {
        let a = sketch(&[1.0; 20]);
        let b = sketch(&[-1.0; 20]);
        assert_eq!(hamming(&a, &a), 0);
        assert_eq!(hamming(&a, &b), 20);
    }

    #[test]
    fn cosine_of_parallel_orthogonal_and_mismatched() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
    }
}
