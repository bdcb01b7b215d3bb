//! The production path on GCP, checked offline (no Docker engine, no GCP, no terraform binary): the
//! Dockerfile, the Cloud Build pipelines and the pod specs they deploy.

mod cloudbuild;
pub mod dockerfile;
pub mod pod;
mod render;
mod terraform;
