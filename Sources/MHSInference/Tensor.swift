/// A dense float32 tensor in row-major order (NCHW for images), as models take and give them.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// `shape.reduce(1, *)` values.
    public var values: [Float]

    /// - Precondition: `values.count` equals the product of `shape`.
    public init(shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "a tensor of shape \(shape) needs \(shape.reduce(1, *)) values, not \(values.count)")
        self.shape = shape
        self.values = values
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// Number of values.
    public var count: Int { values.count }

    /// The values of item `index` along the first dimension (one image of a batch).
    public func item(_ index: Int) -> ArraySlice<Float> {
        let stride = shape.dropFirst().reduce(1, *)
        return values[index * stride..<(index + 1) * stride]
    }
}
