//! The Message Batches API: its types, IDs, errors, retry rules, and the HTTP client.

pub mod batch_id;
pub mod bounded;
pub mod client;
pub mod decode;
pub mod error;
pub mod http;
pub mod request_ids;
pub mod results;
pub mod retry;
pub mod types;

pub use batch_id::{BatchId, InvalidBatchId};
pub use client::BatchesClient;
pub use error::ApiError;
pub use types::{BatchPage, ListParams, MessageBatch, ProcessingStatus, RequestCounts, Status};
