"""helpers.models: parameter counts, shapes, and the two forms of chapter 6's Net."""
import pytest
import torch

from helpers import check, models

NET_COUNTS = [432, 16, 1152, 8, 16384, 32, 64, 2]


def counts(model):
    return [count for _, _, count in models.parameter_table(model)]


@pytest.mark.parametrize("Net", [models.Net, models.NetModules])
def test_net_parameters_and_shape(Net):
    net = Net()
    assert counts(net) == NET_COUNTS
    assert models.count_parameters(net) == 18_090
    assert net(torch.randn(5, 3, 32, 32)).shape == (5, 2)
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 2)


def test_net_forms_share_state_dict_keys_and_outputs():
    torch.manual_seed(0)
    functional, modules = models.Net(), models.NetModules()
    assert list(functional.state_dict()) == list(modules.state_dict())
    assert [name for name, _ in functional.named_children()] == ["conv1", "conv2", "fc1", "fc2"]
    assert {"act1", "pool1", "act2", "pool2", "act3"} <= {name for name, _ in modules.named_children()}
    modules.load_state_dict(functional.state_dict())
    x = torch.randn(7, 3, 32, 32)
    assert torch.equal(functional(x), modules(x))
    assert torch.equal(functional(x), models.net_functional(x, functional.state_dict()))
    # different weights give different outputs: the comparison can fail
    assert not torch.equal(functional(x), models.NetModules()(x))


def test_net_rejects_a_single_image_with_a_hint():
    with pytest.raises(ValueError, match=r"unsqueeze\(0\)"):
        models.Net()(torch.randn(3, 32, 32))
    with pytest.raises(KeyError, match="fc2.weight"):
        params = models.Net().state_dict()
        del params["fc2.weight"]
        models.net_functional(torch.randn(1, 3, 32, 32), params)


@pytest.mark.parametrize("in_channels, size, total, conv1", [(3, 32, 62_006, 456), (1, 28, 61_706, 156)])
def test_lenet5_counts_and_shapes(in_channels, size, total, conv1):
    model = models.LeNet5(in_channels=in_channels, num_classes=10)
    assert models.count_parameters(model) == total
    per_layer = {name: sum(p.numel() for p in layer.parameters()) for name, layer in model.named_children()}
    assert per_layer["conv1"] == conv1
    assert (per_layer["conv2"], per_layer["fc1"], per_layer["fc2"], per_layer["fc3"]) == (2416, 48120, 10164, 850)
    x = torch.randn(4, in_channels, size, size)
    assert model[:6](x).shape == (4, 16, 5, 5)
    assert model(x).shape == (4, 10)


def test_lenet5_options():
    assert models.LeNet5(num_classes=2)(torch.randn(2, 3, 32, 32)).shape == (2, 2)
    assert models.LeNet5(in_channels=1, image_size=32)(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    classic = models.LeNet5(activation="tanh", pool="avg")
    assert isinstance(classic.act1, torch.nn.Tanh) and isinstance(classic.pool1, torch.nn.AvgPool2d)
    modern = models.LeNet5()
    assert isinstance(modern.act1, torch.nn.ReLU) and isinstance(modern.pool1, torch.nn.MaxPool2d)
    with pytest.raises(ValueError, match="activation"):
        models.LeNet5(activation="sigmoid")
    with pytest.raises(ValueError, match="image_size"):
        models.LeNet5(image_size=27)
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        models.LeNet5()(torch.randn(2, 1, 28, 28))


@pytest.mark.parametrize("padding, pool, total, fc", [("same", "max", 28_938, 15_690),
                                                      ("same", "avg", 28_938, 15_690),
                                                      ("valid", "max", 18_378, 5_130)])
def test_mnist_cnn(padding, pool, total, fc):
    model = models.MnistCNN(padding=padding, pool=pool)
    assert models.count_parameters(model) == total
    assert counts(model)[:4] == [400, 16, 12_800, 32]
    assert sum(p.numel() for p in model.fc.parameters()) == fc
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match="padding"):
        models.MnistCNN(padding="full")


def test_builders_are_reference_solutions():
    for name, build in [("Net", models.Net), ("NetModules", models.NetModules),
                        ("LeNet5", models.LeNet5), ("MnistCNN", models.MnistCNN)]:
        with pytest.raises(check.ForbiddenCall, match=name):
            with check.forbid(name):
                build()
        build()  # allowed again outside


def test_dcgan_generator_still_works():
    G = models.dcgan_generator(nz=8, ngf=4)
    assert G(torch.randn(2, 8, 1, 1)).shape == (2, 3, 64, 64)
    assert models.count_parameters(models.dcgan_generator()) == 3_576_704


def test_star_does_not_switch_models_off():
    with check.forbid("*"):
        models.Net()
        models.LeNet5()
