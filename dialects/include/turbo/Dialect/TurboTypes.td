//===- TurboTypes.td - turbo dialect types -----------------*- tablegen -*-===//
#ifndef TURBO_TYPES_TD
#define TURBO_TYPES_TD

include "turbo/Dialect/TurboBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

class Turbo_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Turbo_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Turbo_PtrType : Turbo_Type<"Ptr", "ptr"> {
  let summary = "pointer to elements in global memory";
  let description = [{
    A pointer into global device memory whose elements have type
    `elementType`. Kernel arguments that name tensors in memory have this
    type; `turbo.load` and `turbo.store` move tiles through it.

    Example: `!turbo.ptr<f16>`
  }];
  let parameters = (ins "::mlir::Type":$elementType);
  let assemblyFormat = "`<` $elementType `>`";
  let builders = [
    TypeBuilderWithInferredContext<(ins "::mlir::Type":$elementType), [{
      return $_get(elementType.getContext(), elementType);
    }]>
  ];
}

#endif // TURBO_TYPES_TD
