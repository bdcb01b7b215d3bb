//! PostgreSQL script handling: splitting into statements (`split`), classifying statements
//! (`classify`), and turning a migration file into an executable script (`script`).

pub mod classify;
pub mod script;
pub mod split;

#[cfg(test)]
mod split_tests;
