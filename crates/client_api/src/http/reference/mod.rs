//! `/v1/reference`: the reference data the schema ships (ISO 3166-1 countries, ISO 4217 currencies, NAICS
//! 2022 industry codes) and its small vocabularies (statuses with transitions, risk ratings, size bands,
//! contact roles, address types). Read from the replica; it changes only with migrations.

pub mod countries;
pub mod currencies;
pub mod industry_codes;
pub mod vocabularies;
