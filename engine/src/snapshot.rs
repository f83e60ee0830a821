//! Exact snapshots of a module's parameters, for checkpoints taken in the middle of a training
//! run: parameters are read back in visit order ([`crate::train::flatten_params`]) and written
//! into a module of the same type built afresh, keeping its parameter ids, so optimizer state
//! keyed by position (not by id, which differs between processes) lines up again.

use crate::error::{EngineError, Result};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Tensor, TensorData};

/// The parameter ids of `module`, in visit order.
pub fn param_ids<M: Module>(module: &M) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}

/// `module` with its parameters replaced by `w` (in visit order), keeping every parameter's id,
/// device and whether it requires a gradient. Fails when `w` has the wrong length.
pub fn load_params<M: Module>(module: M, w: &[f32]) -> Result<M> {
    let expected = module.num_params();
    if w.len() != expected {
        return Err(EngineError::config(
            "params",
            format!("expected {expected} parameters, found {}", w.len()),
        ));
    }
    let mut loader = Load { w, offset: 0 };
    Ok(module.map(&mut loader))
}

struct Load<'a> {
    w: &'a [f32],
    offset: usize,
}

impl ModuleMapper for Load<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let n = shape.num_elements();
        let values = self.w[self.offset..self.offset + n].to_vec();
        self.offset += n;
        let require_grad = tensor.is_require_grad();
        let mut t = Tensor::<D>::from_data(TensorData::new(values, shape), &tensor.device());
        if require_grad {
            t = t.require_grad();
        }
        Param::from_mapped_value(id, t, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::flatten_params;
    use burn::tensor::Device;

    #[derive(Module, Debug)]
    struct Two {
        a: Param<Tensor<2>>,
        b: Param<Tensor<1>>,
    }

    fn two(device: &Device) -> Two {
        Two {
            a: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]),
                device,
            )),
            b: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![5.0f32], [1]),
                device,
            )),
        }
    }

    #[test]
    fn loading_keeps_ids_and_puts_values_in_visit_order() {
        let device = Device::flex().autodiff();
        let m = two(&device);
        let ids = param_ids(&m);
        let w = [0.5f32, -1.0, 1e-30, f32::MAX, -0.0];
        let m = load_params(m, &w).unwrap();
        assert_eq!(param_ids(&m), ids);
        let back = flatten_params(&m);
        assert_eq!(
            back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            w.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        assert!(m.a.val().is_require_grad());
    }

    #[test]
    fn a_vector_of_the_wrong_length_is_refused() {
        let device = Device::flex();
        let err = load_params(two(&device), &[1.0; 4]).unwrap_err();
        assert!(
            err.to_string().contains("expected 5 parameters, found 4"),
            "{err}"
        );
    }
}
