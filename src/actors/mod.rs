//! actors (work in progress)
