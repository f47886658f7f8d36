// Package audio is a leaf: file formats, DSP, VAD; it imports nothing of ours.
//
// This package holds the DSP shared by the live speech path, offline
// transcription and diarization: resampling to the 16 kHz mono that the
// recognisers and the VAD expect (Resampler), the Opus packet duration
// read from its TOC byte (OpusPacketSamples), the FFT and the MFCC front
// end used by diarization, and the on-disk PCM spool of one track (Spool).
// Its sub-packages read and write audio files (audiofile: WAV, FLAC,
// Ogg/Opus; ogg: the Ogg container) and find speech (vad).
package audio
