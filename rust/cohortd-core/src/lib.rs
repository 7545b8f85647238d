//! cohortd-core: pure-Rust evaluation kernels over columnar event slices.
//!
//! Every kernel takes *parts*: aligned slices of dense user ids (`u32`) and
//! epoch-ms times (`i64`), sometimes with values, in no particular order.
//! Windows are half-open `[start, end)`; results are dense vectors indexed by
//! user id. The semantics mirror `cohortd.engine.kernels` (Python docstring),
//! which the Numba kernel implements too; tests demand identical results.

pub mod aggregate;
pub mod bitmap;
pub mod count;
pub mod dictionary;
pub mod distinct;
mod error;
pub mod features;
pub mod first;
pub mod funnel;
pub mod journeys;
pub mod membership;
pub mod merge;
pub mod nth;
pub mod part_list;
mod parts;
pub mod periods;
pub mod retention;
pub mod rows;
pub mod sequence;
pub mod sparse;
pub mod time_order;
pub mod top;
mod user_blocks;

pub use aggregate::{aggregate, AggFunc};
pub use bitmap::{
    mask_and_known_bytes, mask_to_roaring, roaring_from_bytes, roaring_to_bytes, IdBits,
};
pub use count::{count, users_in_window};
pub use dictionary::StringTable;
pub use distinct::{distinct, distinct_buckets};
pub use error::KernelError;
pub use features::{user_type_counts, Csr};
pub use first::first_time;
pub use membership::{contains_flat, contains_matrix, flat_bitset};
pub use merge::{merge_order, MergeOrder};
pub use nth::nth_time;
pub use part_list::PartBounds;
pub use periods::{bucket_counts_reaching, count_per_user_window};
pub use rows::rows_of_users;
pub use sequence::{sequence, sequence_sparse};
pub use sparse::{
    aggregate_members, aggregate_sparse, count_members, count_sparse, distinct_buckets_sparse,
    first_time_sparse, nth_time_sparse, Threshold,
};
pub use time_order::sort_by_time;
pub use top::top_members;

pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
