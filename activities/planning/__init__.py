"""Pure, CPU-heavy warehouse planners (layout geometry, pick routes, 3D packing) and the
independent packing checker. No I/O: the warehouse activities feed them and store the result."""
