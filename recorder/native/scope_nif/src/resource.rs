//! Resource types opened with the raw NIF API, so the tracer's hot path finds its state with
//! one `enif_get_resource` call.
//!
//! Rustler's resources look their type up in a `TypeId`-keyed hash map on every access; the
//! tracer state is looked up three times per event (`enabled/3` twice, `trace/5` once), and
//! that lookup showed up at ~5% of the traced scheduler's time in `perf`. Here each type's
//! pointer is a static, set once at load.

use std::ffi::{c_void, CStr};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, Ordering};

use rustler::sys;
use rustler::{Decoder, Env, Error, NifResult, Term};

/// A resource type holding values of `T`, opened by [`ResourceType::open`] at load.
pub struct ResourceType<T> {
    name: &'static CStr,
    typ: AtomicPtr<sys::ErlNifResourceType>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Send + Sync + 'static> ResourceType<T> {
    pub const fn new(name: &'static CStr) -> Self {
        // Resource memory is 8-byte aligned; nothing stored here needs more.
        assert!(std::mem::align_of::<T>() <= 8);
        ResourceType {
            name,
            typ: AtomicPtr::new(std::ptr::null_mut()),
            _t: PhantomData,
        }
    }

    /// Opens (or takes over, on upgrade) the type. Call from the NIF library's load.
    pub fn open(&self, env: Env<'_>) -> bool {
        // SAFETY: called in load/upgrade with that call's environment.
        let typ = unsafe {
            sys::enif_open_resource_type(
                env.as_c_arg(),
                std::ptr::null(),
                self.name.as_ptr(),
                Some(destroy::<T>),
                sys::ErlNifResourceFlags::ERL_NIF_RT_CREATE,
                std::ptr::null_mut(),
            )
        };
        self.typ.store(typ.cast_mut(), Ordering::Release);
        !typ.is_null()
    }

    fn typ(&self) -> *const sys::ErlNifResourceType {
        self.typ.load(Ordering::Acquire)
    }

    /// A new resource holding `value`, as a term; the VM owns it from here on.
    pub fn make<'a>(&self, env: Env<'a>, value: T) -> Term<'a> {
        // SAFETY: the type was opened at load; the allocation is sized and aligned for T and
        // initialised before the term is made; release hands our reference to the term.
        unsafe {
            let obj = sys::enif_alloc_resource(self.typ(), std::mem::size_of::<T>());
            obj.cast::<T>().write(value);
            let term = sys::enif_make_resource(env.as_c_arg(), obj);
            sys::enif_release_resource(obj);
            Term::new(env, term)
        }
    }

    /// The value inside `term`, if it is a resource of this type.
    #[inline]
    pub fn get<'a>(&self, term: Term<'a>) -> Option<&'a T> {
        let mut obj: *const c_void = std::ptr::null();
        // SAFETY: a successful lookup yields a live resource of this type, kept alive by the
        // term for as long as the environment ('a) lives.
        unsafe {
            let found = sys::enif_get_resource(
                term.get_env().as_c_arg(),
                term.as_c_arg(),
                self.typ(),
                &mut obj,
            );
            (found != 0).then(|| &*obj.cast::<T>())
        }
    }
}

unsafe extern "C" fn destroy<T>(_env: *mut sys::ErlNifEnv, obj: *mut c_void) {
    // SAFETY: the VM calls this once, when the last reference to a resource made by
    // `ResourceType::make` goes.
    unsafe { std::ptr::drop_in_place(obj.cast::<T>()) }
}

/// A NIF argument that must be a resource of a given type (`badarg` otherwise).
pub struct Res<'a, T: 'static>(pub &'a T);

/// What a resource argument of a NIF can hold: found in the term by [`Self::find`].
pub trait InResource: Sync + 'static {
    fn find<'a>(term: Term<'a>) -> Option<&'a Self>;
}

impl<'a, T: InResource> Decoder<'a> for Res<'a, T> {
    fn decode(term: Term<'a>) -> NifResult<Self> {
        T::find(term).map(Res).ok_or(Error::BadArg)
    }
}

impl<T> std::ops::Deref for Res<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
    }
}
