//! net (work in progress)
