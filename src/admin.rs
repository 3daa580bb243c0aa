//! admin (work in progress)
