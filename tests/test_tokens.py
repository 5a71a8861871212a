from mailbot.tokens import find_tokens, make_token, verify


def test_token_round_trip_and_tamper():
    token = make_token("s3cret", "campagne-2012", "COM-35238", 4711)
    [ref] = find_tokens(f"Référence : {token}\n")
    assert ref.message_id == 4711
    assert verify("s3cret", ref, "campagne-2012", "COM-35238")
    # wrong key, other collectivité, other campaign
    assert not verify("other", ref, "campagne-2012", "COM-35238")
    assert not verify("s3cret", ref, "campagne-2012", "COM-35000")
    assert not verify("s3cret", ref, "campagne-2013", "COM-35238")


def test_one_character_change_fails():
    token = make_token("s3cret", "c", "DEP-35", 99)
    for i in range(1, len(token)):
        if token[i] == "-":
            continue
        replacement = "a" if token[i] != "a" else "b"
        tampered = token[:i] + replacement + token[i + 1:]
        refs = find_tokens(tampered)
        assert not refs or not verify("s3cret", refs[0], "c", "DEP-35"), tampered


def test_token_survives_lowercasing_in_an_address():
    token = make_token("k", "c", "REG-53", 123456)
    refs = find_tokens(f"atlas+{token.upper()}@cncd.example.fr")
    assert refs and verify("k", refs[0], "c", "REG-53")
