// QEMU 7.2's JSON input as QMP reads it (qobject/json-lexer.c,
// json-streamer.c, json-parser.c): a byte stream split into top-level values
// by brace and bracket counting, QEMU's extensions (single-quoted strings,
// modified UTF-8), its limits, its error recovery and its error texts. A
// library parser cannot stand in: the texts and the recovery are the protocol.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "machine/qobject.h"

namespace memplug::fe {

class QmpJsonStream {
public:
    // Called for each value, or with the error text QEMU reports for bad input.
    using Emit = std::function<void(tl::expected<machine::QObject, std::string>)>;
    explicit QmpJsonStream(Emit emit) : m_emit(std::move(emit)) {}

    void feed(std::string_view bytes);

    enum class Tok { LCurly, RCurly, LSquare, RSquare, Colon, Comma, Integer, Float, Keyword, String, Error };
    struct Token {
        Tok type;
        std::string text;
    };

private:
    enum class State {
        Start, Recovery, DqString, DqEscape, SqString, SqEscape, Zero, Sign, Digits, Mantissa, MantissaDigits,
        ExpE, ExpSign, ExpDigits, Keyword
    };
    void feed_char(unsigned char c);
    void token(Tok t);
    void reset();

    Emit m_emit;
    State m_state = State::Start;
    std::string m_text;
    std::vector<Token> m_tokens;
    size_t m_token_size = 0;
    long m_braces = 0, m_brackets = 0;
};

}  // namespace memplug::fe
