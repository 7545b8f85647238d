//! `cohortd._native`: thin PyO3 wrappers over cohortd-core, one file per area.
//!
//! Each wrapper borrows the numpy parts as slices, releases the GIL for the
//! work, and returns numpy arrays; inconsistent inputs raise
//! `cohortd.errors.KernelError`.

use pyo3::prelude::*;

mod aggregate;
mod bitmap;
mod common;
mod count;
mod dictionary;
mod distinct;
mod features;
mod first;
mod funnel;
mod incremental;
mod journeys;
mod membership;
mod merge;
mod nth;
mod part_list;
mod periods;
mod retention;
mod sequence;
mod sparse;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", cohortd_core::version())?;
    m.add_function(wrap_pyfunction!(count::count, m)?)?;
    m.add_function(wrap_pyfunction!(merge::merge_order, m)?)?;
    m.add_function(wrap_pyfunction!(incremental::rows_of_users, m)?)?;
    m.add_function(wrap_pyfunction!(incremental::sort_by_time, m)?)?;
    m.add_class::<part_list::PartList>()?;
    m.add_class::<dictionary::StringTable>()?;
    m.add_function(wrap_pyfunction!(sparse::count_sparse, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::aggregate_sparse, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::distinct_buckets_sparse, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::first_time_sparse, m)?)?;
    m.add_function(wrap_pyfunction!(sparse::nth_time_sparse, m)?)?;
    m.add_function(wrap_pyfunction!(sequence::sequence_sparse, m)?)?;
    m.add_function(wrap_pyfunction!(aggregate::aggregate, m)?)?;
    m.add_function(wrap_pyfunction!(distinct::distinct, m)?)?;
    m.add_function(wrap_pyfunction!(distinct::distinct_buckets, m)?)?;
    m.add_function(wrap_pyfunction!(first::first_time, m)?)?;
    m.add_function(wrap_pyfunction!(nth::nth_time, m)?)?;
    m.add_function(wrap_pyfunction!(periods::bucket_counts_reaching, m)?)?;
    m.add_function(wrap_pyfunction!(periods::count_per_user_window, m)?)?;
    m.add_function(wrap_pyfunction!(features::user_type_counts, m)?)?;
    m.add_function(wrap_pyfunction!(sequence::sequence, m)?)?;
    m.add_function(wrap_pyfunction!(retention::first_in_window, m)?)?;
    m.add_function(wrap_pyfunction!(retention::retention_curve, m)?)?;
    m.add_function(wrap_pyfunction!(funnel::funnel, m)?)?;
    m.add_function(wrap_pyfunction!(journeys::journeys, m)?)?;
    m.add_function(wrap_pyfunction!(journeys::next_after, m)?)?;
    m.add_function(wrap_pyfunction!(membership::contains_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(membership::contains_flat, m)?)?;
    m.add_function(wrap_pyfunction!(membership::flat_bitset, m)?)?;
    m.add_function(wrap_pyfunction!(bitmap::mask_to_bitmap, m)?)?;
    m.add_function(wrap_pyfunction!(bitmap::users_in_window, m)?)?;
    m.add_function(wrap_pyfunction!(bitmap::top_members, m)?)?;
    Ok(())
}
