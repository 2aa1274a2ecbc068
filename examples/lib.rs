//! The examples are in this folder, one file each; see `README.md` there.
//! This library carries the workspace README as its docs, so that the
//! README's code runs as a doctest and stays true.
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
