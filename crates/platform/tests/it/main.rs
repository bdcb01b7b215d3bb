//! The platform library against real servers: `up` on the repository's own manifest (its `dev`
//! environment, pointed at this binary's cluster) provisions, migrates and resolves the service, a second
//! `up` does nothing, and a clone carries the template's owner and privileges.

mod clone;
mod up;
