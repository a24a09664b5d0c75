(
SynthDef(\ping, { |out = 0, freq = 440|
    var sig = SinOsc.ar(freq) * EnvGen.kr(Env.perc, doneAction: 2);
    Out.ar(out, sig ! 2);
}).add;
)
Synth(\ping, [\freq, 660]);
