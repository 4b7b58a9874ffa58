//! Tests over the real dumps.
