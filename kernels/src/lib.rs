//! knob-kernels: the int8 and f32 compute kernels of knob's inference engine.
