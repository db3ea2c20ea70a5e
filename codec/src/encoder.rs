//! A serde `Serializer` that writes MessagePack the way waSCC-era guests read it.
//!
//! `rmp-serde` is close, but it writes non-negative signed integers with the
//! unsigned formats (`200i32` becomes `uint8`), which AssemblyScript guests
//! reject. This encoder differs from it only in that, and in always writing
//! structs as maps.

use crate::CodecError;
use rmp::encode as mp;
use serde::ser::{self, Serialize};

impl ser::Error for CodecError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        CodecError::Encode(msg.to_string())
    }
}

fn io_error<E: std::fmt::Display>(e: E) -> CodecError {
    CodecError::Encode(e.to_string())
}

fn len_u32(len: usize) -> Result<u32, CodecError> {
    u32::try_from(len).map_err(|_| CodecError::Encode(format!("length {len} exceeds u32")))
}

pub(crate) struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Encoder<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Encoder { out }
    }

    /// Positive fixint for 0–127, otherwise the smallest signed format.
    fn write_signed(&mut self, v: i64) -> Result<(), CodecError> {
        let out = &mut *self.out;
        match v {
            0..=127 => mp::write_pfix(out, v as u8).map_err(io_error),
            _ if i8::try_from(v).is_ok() => mp::write_i8(out, v as i8).map_err(io_error),
            _ if i16::try_from(v).is_ok() => mp::write_i16(out, v as i16).map_err(io_error),
            _ if i32::try_from(v).is_ok() => mp::write_i32(out, v as i32).map_err(io_error),
            _ => mp::write_i64(out, v).map_err(io_error),
        }
    }

    fn write_unsigned(&mut self, v: u64) -> Result<(), CodecError> {
        mp::write_uint(self.out, v).map(drop).map_err(io_error)
    }

    fn write_array_len(&mut self, len: usize) -> Result<(), CodecError> {
        mp::write_array_len(self.out, len_u32(len)?)
            .map(drop)
            .map_err(io_error)
    }

    fn write_map_len(&mut self, len: usize) -> Result<(), CodecError> {
        mp::write_map_len(self.out, len_u32(len)?)
            .map(drop)
            .map_err(io_error)
    }

    fn write_str(&mut self, v: &str) -> Result<(), CodecError> {
        mp::write_str(self.out, v).map_err(io_error)
    }

    fn known_len(len: Option<usize>) -> Result<usize, CodecError> {
        len.ok_or_else(|| CodecError::Encode("sequences and maps need a known length".into()))
    }
}

impl<'a, 'b> ser::Serializer for &'b mut Encoder<'a> {
    type Ok = ();
    type Error = CodecError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result<(), CodecError> {
        mp::write_bool(self.out, v).map_err(io_error)
    }
    fn serialize_i8(self, v: i8) -> Result<(), CodecError> {
        self.write_signed(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), CodecError> {
        self.write_signed(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), CodecError> {
        self.write_signed(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), CodecError> {
        self.write_signed(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), CodecError> {
        self.write_unsigned(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), CodecError> {
        self.write_unsigned(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), CodecError> {
        self.write_unsigned(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), CodecError> {
        self.write_unsigned(v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), CodecError> {
        mp::write_f32(self.out, v).map_err(io_error)
    }
    fn serialize_f64(self, v: f64) -> Result<(), CodecError> {
        mp::write_f64(self.out, v).map_err(io_error)
    }
    fn serialize_char(self, v: char) -> Result<(), CodecError> {
        self.write_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), CodecError> {
        self.write_str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), CodecError> {
        mp::write_bin(self.out, v).map_err(io_error)
    }
    fn serialize_none(self) -> Result<(), CodecError> {
        mp::write_nil(self.out).map_err(io_error)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), CodecError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), CodecError> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), CodecError> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), CodecError> {
        self.write_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), CodecError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CodecError> {
        self.write_map_len(1)?;
        self.write_str(variant)?;
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self, CodecError> {
        self.write_array_len(Encoder::known_len(len)?)?;
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self, CodecError> {
        self.write_array_len(len)?;
        Ok(self)
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self, CodecError> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, CodecError> {
        self.write_map_len(1)?;
        self.write_str(variant)?;
        self.serialize_tuple(len)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self, CodecError> {
        self.write_map_len(Encoder::known_len(len)?)?;
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Self, CodecError> {
        self.write_map_len(len)?;
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self, CodecError> {
        self.write_map_len(1)?;
        self.write_str(variant)?;
        self.serialize_struct(variant, len)
    }
}

/// Elements of arrays and maps are written one after another: msgpack needs
/// no separators or terminators once the length is out.
macro_rules! forward_compound {
    ($($trait:ident :: $method:ident),* $(,)?) => {$(
        impl<'a, 'b> ser::$trait for &'b mut Encoder<'a> {
            type Ok = ();
            type Error = CodecError;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), CodecError> {
                value.serialize(&mut **self)
            }
            fn end(self) -> Result<(), CodecError> {
                Ok(())
            }
        }
    )*};
}

forward_compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl<'a, 'b> ser::SerializeMap for &'b mut Encoder<'a> {
    type Ok = ();
    type Error = CodecError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), CodecError> {
        key.serialize(&mut **self)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), CodecError> {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result<(), CodecError> {
        Ok(())
    }
}

/// Struct fields are map entries keyed by the (already renamed) field name.
macro_rules! struct_fields {
    ($($trait:ident),*) => {$(
        impl<'a, 'b> ser::$trait for &'b mut Encoder<'a> {
            type Ok = ();
            type Error = CodecError;
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), CodecError> {
                self.write_str(key)?;
                value.serialize(&mut **self)
            }
            fn end(self) -> Result<(), CodecError> {
                Ok(())
            }
        }
    )*};
}

struct_fields!(SerializeStruct, SerializeStructVariant);
