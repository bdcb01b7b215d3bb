//! `/v1/clients/{id}/addresses`: typed postal addresses (at most one registered, headquarters, billing and
//! mailing address per client; any number of operating sites and others).

pub mod create;
pub mod delete;
pub mod list;
pub mod update;

use uuid::Uuid;

use crate::db::Query;
use crate::domain::metadata::{ADDRESS_COLUMNS, Address};
use crate::error::ApiError;

/// The address `address_id` of client `client_id`.
///
/// # Errors
/// 404 when either does not exist or the address belongs to another client.
pub async fn load(conn: &impl Query, client_id: Uuid, address_id: Uuid) -> Result<Address, ApiError> {
    let sql =
        format!("SELECT {ADDRESS_COLUMNS} FROM client_api.client_address AS a WHERE a.id = $1 AND a.client_id = $2");
    let row = conn
        .query_opt(&sql, &[&address_id, &client_id])
        .await?
        .ok_or_else(|| ApiError::not_found("address", address_id))?;
    Address::from_row(&row).map_err(ApiError::internal)
}
