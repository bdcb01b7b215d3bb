//! `Pcc-Read-Staleness-Ms`: a response served from the database says how old its data may be, in whole
//! milliseconds (rounded up): `0` when every read ran on the primary, otherwise an upper bound on how far
//! the replica it read was behind the primary (docs/API.md "Consistency"). Absent when the request read
//! nothing, or while the service cannot bound the replica's staleness (right after start, until the replica has
//! replayed past the service's first observation of the primary).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;

use crate::db::{READS, ReadReport};

/// The response header.
pub const STALENESS_HEADER: &str = "pcc-read-staleness-ms";

/// Opens the request's read report and turns it into the header.
pub async fn report(request: Request, next: Next) -> Response {
    READS
        .scope(ReadReport::default(), async move {
            let mut response = next.run(request).await;
            if let Some(bound) = READS.with(ReadReport::bound) {
                let ms = u64::try_from(bound.as_micros().div_ceil(1000)).unwrap_or(u64::MAX);
                response.headers_mut().insert(STALENESS_HEADER, HeaderValue::from(ms));
            }
            response
        })
        .await
}
