import Foundation

/// The cell of a recurrent layer.
public enum RecurrentCell: String, Sendable, Codable, CaseIterable {
    case gru, lstm

    /// Gates per hidden unit: GRU has r, z, n; LSTM has i, f, g, o (PyTorch's order).
    public var gateCount: Int { self == .gru ? 3 : 4 }
}

extension Variable {
    /// Runs a GRU or LSTM recurrence over time as one fused operation with hand-written
    /// back-propagation through time.
    ///
    /// `inputGates` is [batch, time, gates·hidden]: the input projection `x·W_ihᵀ + b_ih`.
    /// `hiddenWeight` is [gates·hidden, hidden], `hiddenBias` [gates·hidden]. Where `mask`
    /// ([batch, time]) is zero the state carries over unchanged, so padded steps do not
    /// disturb it. Returns the hidden state at every step, [batch, time, hidden].
    public static func recurrentScan(
        cell: RecurrentCell, inputGates: Variable, hiddenWeight: Variable, hiddenBias: Variable, mask: Tensor? = nil
    ) -> Variable {
        let gatesShape = inputGates.shape
        precondition(
            gatesShape.count == 3, "recurrentScan: inputGates must be [batch, time, gates·hidden], got \(gatesShape)")
        let batch = gatesShape[0], time = gatesShape[1]
        let hidden = hiddenWeight.shape.count == 2 ? hiddenWeight.shape[1] : 0
        let gates = cell.gateCount * hidden
        precondition(
            hiddenWeight.shape == [gates, hidden] && hiddenBias.shape == [gates] && gatesShape[2] == gates,
            "recurrentScan(\(cell)): inputGates \(gatesShape), hiddenWeight \(hiddenWeight.shape), hiddenBias \(hiddenBias.shape) disagree on hidden size"
        )
        if let mask {
            precondition(mask.shape == [batch, time], "recurrentScan: mask \(mask.shape) must be [\(batch), \(time)]")
        }

        let x = inputGates.value, w = hiddenWeight.value, bias = hiddenBias.value
        let stepSize = batch * hidden
        // Saved per step: activated gates (and for GRU the hidden candidate's pre-reset part),
        // plus the cell state for LSTM.
        var activations = Tensor(uninitializedShape: [time, batch, gates])
        var extra = Tensor(uninitializedShape: [time, batch, hidden])  // GRU: W_hn·h + b_hn; LSTM: c_t
        var states = Tensor.zeros([time + 1, batch, hidden])  // h_{-1} = 0 at index 0
        var cells = Tensor.zeros([time + 1, batch, hidden])  // LSTM c_{-1} = 0
        var projected = Tensor(uninitializedShape: [batch, gates])
        let xp = x.storage.pointer, ap = activations.mutablePointer(), ep = extra.mutablePointer()
        let hp = states.mutablePointer(), cp = cells.mutablePointer(), gp = projected.mutablePointer()
        let bp = bias.storage.pointer, mp = mask?.storage.pointer

        // Raw pointers above do not keep their tensors alive; this does.
        defer { withExtendedLifetime((x, w, bias, activations, extra, states, cells, projected, mask)) {} }
        for t in 0..<time {
            let hPrev = hp + t * stepSize, hNext = hp + (t + 1) * stepSize
            let cPrev = cp + t * stepSize, cNext = cp + (t + 1) * stepSize
            GEMM.multiply(
                transA: false, transB: true, m: batch, n: gates, k: hidden, a: hPrev, lda: hidden, b: w.storage.pointer,
                ldb: hidden, c: gp, ldc: gates)
            for b in 0..<batch {
                let m: Float = mp.map { $0[b * time + t] } ?? 1
                let xi = xp + (b * time + t) * gates, gh = gp + b * gates
                let act = ap + (t * batch + b) * gates, ex = ep + (t * batch + b) * hidden
                for j in 0..<hidden {
                    let prev = hPrev[b * hidden + j]
                    var h: Float
                    switch cell {
                    case .gru:
                        let r = logistic(xi[j] + gh[j] + bp[j])
                        let z = logistic(xi[hidden + j] + gh[hidden + j] + bp[hidden + j])
                        let hn = gh[2 * hidden + j] + bp[2 * hidden + j]
                        let n = tanhf(xi[2 * hidden + j] + r * hn)
                        act[j] = r
                        act[hidden + j] = z
                        act[2 * hidden + j] = n
                        ex[j] = hn
                        h = (1 - z) * n + z * prev
                    case .lstm:
                        let i = logistic(xi[j] + gh[j] + bp[j])
                        let f = logistic(xi[hidden + j] + gh[hidden + j] + bp[hidden + j])
                        let g = tanhf(xi[2 * hidden + j] + gh[2 * hidden + j] + bp[2 * hidden + j])
                        let o = logistic(xi[3 * hidden + j] + gh[3 * hidden + j] + bp[3 * hidden + j])
                        let c = f * cPrev[b * hidden + j] + i * g
                        act[j] = i
                        act[hidden + j] = f
                        act[2 * hidden + j] = g
                        act[3 * hidden + j] = o
                        ex[j] = c
                        h = o * tanhf(c)
                        cNext[b * hidden + j] = m * c + (1 - m) * cPrev[b * hidden + j]
                    }
                    hNext[b * hidden + j] = m * h + (1 - m) * prev
                }
            }
        }
        let output = states.slice(axis: 0, 1..<(time + 1)).permuted([1, 0, 2])

        let saved = (activations: activations, extra: extra, states: states, cells: cells, mask: mask)
        return Variable(output, parents: [inputGates, hiddenWeight, hiddenBias]) { g in
            // Pointers into the saved tensors, which this closure keeps alive.
            let ap = saved.activations.storage.pointer, ep = saved.extra.storage.pointer
            let hp = saved.states.storage.pointer, cp = saved.cells.storage.pointer
            let mp = saved.mask?.storage.pointer
            let gOut = g.permuted([1, 0, 2])  // [time, batch, hidden]
            var dInput = Tensor(uninitializedShape: gatesShape)
            var dWeight = Tensor.zeros([gates, hidden])
            var dBias = Tensor.zeros([gates])
            var dGates = Tensor(uninitializedShape: [batch, gates])
            var dh = Tensor.zeros([batch, hidden])  // gradient flowing into h_t from later steps
            var dc = Tensor.zeros([batch, hidden])
            let gop = gOut.storage.pointer, dip = dInput.mutablePointer(), dwp = dWeight.mutablePointer()
            let dbp = dBias.mutablePointer(), dgp = dGates.mutablePointer()
            let dhp = dh.mutablePointer(), dcp = dc.mutablePointer(), wp = w.storage.pointer
            defer { withExtendedLifetime((gOut, dGates, dh, dc, w, saved)) {} }
            for t in stride(from: time - 1, through: 0, by: -1) {
                let hPrev = hp + t * stepSize, cPrev = cp + t * stepSize
                for b in 0..<batch {
                    let m: Float = mp.map { $0[b * time + t] } ?? 1
                    let act = ap + (t * batch + b) * gates, ex = ep + (t * batch + b) * hidden
                    let dg = dgp + b * gates
                    for j in 0..<hidden {
                        let k = b * hidden + j
                        let total = dhp[k] + gop[t * stepSize + k]
                        let dNew = m * total
                        var carry = (1 - m) * total
                        switch cell {
                        case .gru:
                            let r = act[j], z = act[hidden + j], n = act[2 * hidden + j], hn = ex[j]
                            let dn = dNew * (1 - z) * (1 - n * n)
                            let dz = dNew * (hPrev[k] - n) * z * (1 - z)
                            let dr = dn * hn * r * (1 - r)
                            carry += dNew * z
                            dg[j] = dr
                            dg[hidden + j] = dz
                            dg[2 * hidden + j] = dn * r  // through W_hn·h + b_hn
                            dip[(b * time + t) * gates + 2 * hidden + j] = dn
                        case .lstm:
                            let i = act[j], f = act[hidden + j], gg = act[2 * hidden + j], o = act[3 * hidden + j]
                            let c = ex[j], tc = tanhf(c)
                            var dcNew = m * dcp[k] + dNew * o * (1 - tc * tc)
                            let dCarry = (1 - m) * dcp[k]
                            dg[j] = dcNew * gg * i * (1 - i)
                            dg[hidden + j] = dcNew * cPrev[k] * f * (1 - f)
                            dg[2 * hidden + j] = dcNew * i * (1 - gg * gg)
                            dg[3 * hidden + j] = dNew * tc * o * (1 - o)
                            dcNew *= f
                            dcp[k] = dcNew + dCarry
                        }
                        dhp[k] = carry
                    }
                    let di = dip + (b * time + t) * gates
                    switch cell {
                    case .gru:
                        for j in 0..<(2 * hidden) { di[j] = dg[j] }
                    case .lstm:
                        for j in 0..<gates { di[j] = dg[j] }
                    }
                    for j in 0..<gates { dbp[j] += dg[j] }
                }
                // dh_{t-1} += dGates·W_hh ; dW_hh += dGatesᵀ·h_{t-1}
                GEMM.multiply(
                    transA: false, transB: false, m: batch, n: hidden, k: gates, a: dgp, lda: gates, b: wp, ldb: hidden,
                    beta: 1, c: dhp, ldc: hidden)
                GEMM.multiply(
                    transA: true, transB: false, m: gates, n: hidden, k: batch, a: dgp, lda: gates, b: hPrev,
                    ldb: hidden,
                    beta: 1, c: dwp, ldc: hidden)
            }
            return [dInput, dWeight, dBias]
        }
    }
}

@inline(__always) private func logistic(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

/// A batch-first GRU or LSTM layer (one layer, PyTorch's parameter names and layout).
public final class RecurrentLayer: Layer {
    public let cell: RecurrentCell
    public let inputWeight: Variable, hiddenWeight: Variable, inputBias: Variable, hiddenBias: Variable
    public var isTraining = true

    /// Parameters drawn from U(-1/√hidden, 1/√hidden), as PyTorch does.
    public init(cell: RecurrentCell, inputSize: Int, hiddenSize: Int, generator: inout SeededGenerator) {
        self.cell = cell
        let gates = cell.gateCount * hiddenSize
        let bound = 1 / Float(hiddenSize).squareRoot()
        inputWeight = parameter(.randomUniform([gates, inputSize], low: -bound, high: bound, generator: &generator))
        hiddenWeight = parameter(.randomUniform([gates, hiddenSize], low: -bound, high: bound, generator: &generator))
        inputBias = parameter(.randomUniform([gates], low: -bound, high: bound, generator: &generator))
        hiddenBias = parameter(.randomUniform([gates], low: -bound, high: bound, generator: &generator))
    }

    public var ownParameters: [(name: String, parameter: Variable)] {
        [
            ("weight_ih_l0", inputWeight), ("weight_hh_l0", hiddenWeight), ("bias_ih_l0", inputBias),
            ("bias_hh_l0", hiddenBias),
        ]
    }

    public var hiddenSize: Int { hiddenWeight.shape[1] }

    /// `x` is [batch, time, input]; `mask` [batch, time] is 1 at real steps, 0 at padding.
    /// Returns [batch, time, hidden].
    public func callAsFunction(_ x: Variable, mask: Tensor? = nil) -> Variable {
        let projected = x.linear(weight: inputWeight, bias: inputBias)
        return Variable.recurrentScan(
            cell: cell, inputGates: projected, hiddenWeight: hiddenWeight, hiddenBias: hiddenBias, mask: mask)
    }
}
