"""Every figure's caption and alt text, by the name `plots.save` files it under.

A caption says what the figure shows and what to read from it; the numbers themselves are in the tables and
generated text beside it, since a fixed caption cannot know them. The alt text describes what is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

FIGURE_METADATA = "convlab/figure"  # the output metadata `plots.save` attaches: {"name", "caption", "alt"}


@dataclass(frozen=True)
class Caption:
    """`full_width`: detail too fine for half the page, so the datasets' panels stand one above the other."""

    caption: str
    alt: str
    full_width: bool = False


CAPTIONS: dict[str, Caption] = {
    "protocol_trajectories": Caption(
        "The reference runs epoch by epoch, FC network (left) and CNN (right): training, validation and test loss "
        "(top, log scale) and test accuracy (bottom), the mean over seeds with the seeds' range shaded. The dotted "
        "line marks epoch 15, where the studies' protocol stops; a validation loss that rises before it is over-fitting.",
        "Four line charts of loss and accuracy against epoch for the FC network and the CNN, with a dotted vertical "
        "line at epoch 15.",
        full_width=True,
    ),
    "class_balance": Caption(
        "Training and test images per class. Equal bars mean that accuracy weighs every class alike.",
        "Bar chart of the number of images in each of the ten classes, training and test split.",
    ),
    "samples": Caption(
        "Eight random training images of each class, one class per row: the variety within a class and the "
        "resemblances between classes that the models must separate.",
        "Grid of small greyscale images, one row per class.",
    ),
    "mean_images": Caption(
        "The mean training image of each class. Sharp means show objects that sit in the same place in every "
        "image; blurred ones show variation in position or shape.",
        "Ten greyscale images, the pixel-wise average of each class.",
    ),
    "intensity_histogram": Caption(
        "Histogram of all training pixel values: the share of pure background and how the rest is spread, "
        "which the scaling to [0, 1] keeps.",
        "Histogram of pixel intensities from 0 to 255.",
    ),
    "neighbour_correlation": Caption(
        "Correlation between a pixel and its neighbour at a given distance, horizontally and vertically. How "
        "fast it falls says how local the structure is that small kernels can pick up.",
        "Line chart of correlation against pixel distance for horizontal and vertical neighbours.",
    ),
    "pixel_std": Caption(
        "Standard deviation of every pixel over the training set. Pixels that never vary carry no information for any model.",
        "Heat map of the 28 by 28 per-pixel standard deviations.",
    ),
    "architecture": Caption(
        "The two networks layer by layer, with the shape of each layer's output and its parameters: the FC network "
        "flattens the image at once, the CNN keeps its 28×28 grid through two convolution and pooling blocks.",
        "Two rows of boxes, one per layer of each network, labelled with layer type, output shape and parameters.",
    ),
    "probabilities": Caption(
        "A few test images (one the CNN fixes, one it breaks, one both miss, one both get right) beside each "
        "model's predicted probability for every class; the true class is green. A tall bar on a grey class is a "
        "confident mistake.",
        "Rows of a test image and two horizontal bar charts of class probabilities.",
    ),
    "training_curves": Caption(
        "Loss and accuracy per epoch on the training data and the validation split (seed 0); the shaded line "
        "marks the epoch whose weights early stopping restored. A gap that widens after it is over-fitting.",
        "Two line charts, loss and accuracy against epoch, for training and validation data.",
    ),
    "confusion_matrix": Caption(
        "Test confusion matrix (seed 0): rows are true classes, columns predicted ones. Off-diagonal cells show "
        "which classes the model mixes up.",
        "Ten by ten heat map of counts of true against predicted classes.",
    ),
    "per_class_accuracy": Caption(
        "Test accuracy per class over the seeds: which classes are hard for the model.",
        "Bar chart of the accuracy of each class.",
    ),
    "dense_weights": Caption(
        "The input weights of 32 hidden units of the FC network, each drawn as a 28×28 image: the pixel "
        "templates the first layer matches against.",
        "Grid of 32 small images of weights, blue negative and red positive.",
    ),
    "comparison": Caption(
        "FC network and CNN side by side: test accuracy and loss, parameters, multiply-accumulates per image "
        "and training time (mean over seeds).",
        "Five small bar charts comparing the two models on each measure.",
    ),
    "gallery": Caption(
        "Test images of one outcome (both models right, only one right, or both wrong), with their true and predicted labels.",
        "Gallery of small test images with label captions.",
    ),
    "accuracy_by_kernel": Caption(
        "Test accuracy of every first-layer kernel size (and the variant with both kernels changed), seed by "
        "seed and as mean with its t interval. Overlapping intervals mean the seeds do not separate the sizes.",
        "Dot plot of accuracy per kernel configuration with interval bars.",
    ),
    "accuracy_vs_cost": Caption(
        "Accuracy of each kernel configuration against its parameters, its multiply-accumulates per image and "
        "its training time per epoch (log scales): what a larger kernel costs and what it buys.",
        "Three scatter plots of accuracy against parameters, compute and time.",
    ),
    "filters": Caption(
        "The CNN's first-layer 3×3 filters (seed 0), each on its own colour scale, blue negative and red positive.",
        "Grid of 32 small three by three weight patterns.",
    ),
    "activations_conv1": Caption(
        "Activation maps of eight first-layer filters on a few test images: where in the image each filter responds.",
        "Grid of test images and the activation maps of eight filters.",
    ),
    "activations_conv2": Caption(
        "Activation maps of eight second-layer filters on the same images, at half the resolution after pooling.",
        "Grid of test images and the activation maps of eight second-layer filters.",
    ),
    "orientation_tuning": Caption(
        "Responses of the first-layer filters to gratings at twelve orientations (left) and each filter's "
        "preferred orientation and selectivity (right): oriented filters respond to one orientation far more "
        "than to the others.",
        "Heat map of filter responses by grating orientation, and a scatter of preference against selectivity.",
    ),
    "class_filters": Caption(
        "Mean activation of each second-layer filter per class, relative to the filter's overall mean: filters "
        "that respond to some classes more than others.",
        "Heat map of filters against classes.",
    ),
    "maximising_inputs": Caption(
        "Inputs found by gradient ascent that make eight second-layer filters respond most: the patterns they detect.",
        "Grid of eight synthetic images.",
    ),
    "shift_examples": Caption(
        "One test image shifted by the probe's distances, the vacated pixels filled with zeros; large shifts "
        "also push part of the object out of the frame.",
        "Row of the same image shifted by increasing numbers of pixels.",
    ),
    "accuracy_vs_shift": Caption(
        "Test accuracy on shifted images against the shift, per direction, for every probed model (mean over "
        "seeds, no retraining). A flat curve is a model that tolerates the shift.",
        "Line charts of accuracy against shift in pixels, one panel per direction.",
    ),
    "permuted_examples": Caption(
        "Test images before (top) and after (bottom) the fixed pixel permutation: the same pixels in other "
        "places, with every neighbourhood destroyed.",
        "Two rows of images, originals and their scrambled versions.",
    ),
    "accuracy_permuted": Caption(
        "Test accuracy on original and on permuted pixels, seed by seed and as mean with its t interval. A model "
        "that does not use neighbourhoods loses nothing under the permutation.",
        "Dot plot of accuracy per model and pixel order, with interval bars.",
    ),
    "efficiency_frontier": Caption(
        "Accuracy of every model against parameters, multiply-accumulates, training time and single-image "
        "latency (log scales). Points towards the upper left buy more accuracy for less.",
        "Four scatter plots of accuracy against four measures of cost.",
        full_width=True,
    ),
    "gain_by_dataset": Caption(
        "What the convolutions buy on each dataset: the CNN's accuracy gain over the FC network and the share "
        "of the FC network's errors it removes, with Welch intervals over seeds.",
        "Bar charts of gain and error reduction for the two datasets, with interval bars.",
    ),
    "learning_curves": Caption(
        "Test accuracy against the number of training images (log scale) for both models (left) and the CNN's "
        "gain (right), means with intervals over seeds. Where the gain's interval clears zero the CNN learns more "
        "from the same data.",
        "Two line charts against training-set size, accuracy of both models and the gain.",
    ),
}


def caption_for(name: str) -> Caption:
    """The caption of a figure filed under `name` ("gallery_both_right" takes that of "gallery")."""
    key = name if name in CAPTIONS else name.split("_", 1)[0]
    if key not in CAPTIONS:
        raise KeyError(f"No caption for the figure {name!r}: add one to convlab/figures/captions.py CAPTIONS.")
    return CAPTIONS[key]
