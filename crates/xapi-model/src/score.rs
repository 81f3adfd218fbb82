//! Score helpers: xAPI scores (scaled −1..1, raw within min..max) to the LMS's 0–100.

use crate::model::Score;

impl Score {
    /// The score as a percentage, 0–100:
    /// - `scaled` × 100 when `scaled` is present (negative scores become 0);
    /// - otherwise `(raw − min) / (max − min)` × 100 when raw, min and max are present;
    /// - otherwise `raw / max` × 100 when raw and max are present (min taken as 0);
    /// - otherwise unknown (`None`): a bare raw number has no scale.
    ///
    /// Rounded to two decimals.
    pub fn percent(&self) -> Option<f64> {
        let pct = match (self.scaled, self.raw, self.min, self.max) {
            (Some(scaled), ..) => scaled * 100.0,
            (None, Some(raw), Some(min), Some(max)) if max > min => {
                (raw - min) / (max - min) * 100.0
            }
            (None, Some(raw), None, Some(max)) if max > 0.0 => raw / max * 100.0,
            _ => return None,
        };
        // Two decimals: 0.28 × 100 is 28, not 28.000000000000004.
        Some((pct.clamp(0.0, 100.0) * 100.0).round() / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(scaled: Option<f64>, raw: Option<f64>, min: Option<f64>, max: Option<f64>) -> Score {
        Score {
            scaled,
            raw,
            min,
            max,
        }
    }

    #[test]
    fn percent() {
        assert_eq!(s(Some(0.85), None, None, None).percent(), Some(85.0));
        assert_eq!(s(Some(-0.5), None, None, None).percent(), Some(0.0));
        assert_eq!(
            s(None, Some(30.0), Some(10.0), Some(50.0)).percent(),
            Some(50.0)
        );
        assert_eq!(s(None, Some(8.0), None, Some(10.0)).percent(), Some(80.0));
        assert_eq!(s(None, Some(8.0), None, None).percent(), None);
        assert_eq!(
            s(Some(0.5), Some(1.0), Some(0.0), Some(10.0)).percent(),
            Some(50.0)
        );
        assert_eq!(s(Some(0.28), None, None, None).percent(), Some(28.0));
        assert_eq!(
            s(None, Some(1.0), Some(0.0), Some(3.0)).percent(),
            Some(33.33)
        );
    }
}
