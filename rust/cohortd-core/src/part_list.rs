//! Part lists: the parts of one event type (a segment's type range each) with
//! their time bounds, built once per data version so that one evaluation of a
//! selective condition picks the parts its window overlaps without any
//! per-part work in Python (cost: the rows touched and a constant).

use crate::error::{KernelError, Result};

/// Time bounds `[min_time, max_time]` (inclusive) of each part, in part order.
#[derive(Debug, Clone, Default)]
pub struct PartBounds {
    min_times: Vec<i64>,
    max_times: Vec<i64>,
}

impl PartBounds {
    /// Checks that both bound lists have one entry per part.
    pub fn new(min_times: Vec<i64>, max_times: Vec<i64>) -> Result<Self> {
        if min_times.len() != max_times.len() {
            return Err(KernelError::Parts(format!(
                "{} minimum times but {} maximum times",
                min_times.len(),
                max_times.len()
            )));
        }
        Ok(Self {
            min_times,
            max_times,
        })
    }

    pub fn len(&self) -> usize {
        self.min_times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.min_times.is_empty()
    }

    /// Indices (in part order) of the parts with a time in `[start, end)`
    /// possible: the others hold no row of the window.
    pub fn overlapping(&self, start: i64, end: i64) -> Vec<usize> {
        if start >= end {
            return Vec::new();
        }
        self.min_times
            .iter()
            .zip(&self.max_times)
            .enumerate()
            .filter(|(_, (&lo, &hi))| hi >= start && lo < end)
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_keeps_part_order_and_cuts_at_the_window() {
        let b = PartBounds::new(vec![0, 10, 5, 30], vec![9, 19, 25, 40]).unwrap();
        assert_eq!(b.overlapping(9, 11), vec![0, 1, 2]);
        assert_eq!(b.overlapping(20, 30), vec![2]); // end is exclusive
        assert_eq!(b.overlapping(41, 50), Vec::<usize>::new());
        assert_eq!(b.overlapping(5, 5), Vec::<usize>::new());
        assert!(PartBounds::new(vec![0], vec![]).is_err());
    }
}
